using UnleashingTransformers.Models.Training;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

/// <summary>Two ranks (threads, a real TCP store) with half the batch each end with the gradients one process gets
/// from the whole batch.</summary>
public class GradientAverageTests
{
    private static (nn.Sequential model, Tensor x, Tensor y) Problem()
    {
        manual_seed(7);
        var model = new nn.Sequential(new nn.Linear(6, 16), new nn.GELU(), new nn.Linear(16, 3));
        using var g = new Generator(11);
        return (model, randn(new long[] { 16, 6 }, g), randn(new long[] { 16, 3 }, g));
    }

    private static float[][] Gradients(nn.Sequential model) => [.. model.parameters().Select(p => p.grad!.contiguous().ToArray<float>())];

    [Fact]
    public async Task TwoRanksOnHalfTheBatchEachGetTheWholeBatchsGradients()
    {
        float[][] whole;
        {
            var (model, x, y) = Problem();
            nn.functional.mse_loss(model.forward(x), y).backward();
            whole = Gradients(model);
        }
        var port = Ports.Free();
        var perRank = new float[2][][];
        // the same weights on every rank, as a broadcast from rank 0 would leave them (made here: the seed is global)
        var problems = new[] { Problem(), Problem() };
        await Task.WhenAll(Enumerable.Range(0, 2).Select(rank => Task.Run(() =>
        {
            var (model, x, y) = problems[rank];
            using var group = ProcessGroup.Gloo("127.0.0.1", port, rank, 2, TimeSpan.FromSeconds(30));
            nn.functional.mse_loss(model.forward(x.narrow(0, 8 * rank, 8)), y.narrow(0, 8 * rank, 8)).backward();
            GradientAverage.Over(group, model.parameters());
            perRank[rank] = Gradients(model);
        }))).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var grads in perRank)
            for (var p = 0; p < whole.Length; p++)
                for (var i = 0; i < whole[p].Length; i++)
                    Assert.True(Math.Abs(whole[p][i] - grads[p][i]) <= 1e-6f + 1e-5f * Math.Abs(whole[p][i]), $"parameter {p}[{i}]: {whole[p][i]} vs {grads[p][i]}");
        // and the ranks agree to the bit: the same reduced buffer divided alike
        Assert.Equal(perRank[0].SelectMany(g => g), perRank[1].SelectMany(g => g));
    }
}
