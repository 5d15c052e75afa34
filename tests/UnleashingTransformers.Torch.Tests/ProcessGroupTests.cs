using System.Diagnostics;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

/// <summary>c10d over Gloo through the binding: ranks on threads of this process, meeting at a real TCP store.</summary>
public class ProcessGroupTests
{
    [Fact]
    public async Task TwoRanksSumTheirTensorsInPlace()
    {
        var port = Ports.Free();
        var results = new float[2][][];
        var ranks = Enumerable.Range(0, 2).Select(rank => Task.Run(() =>
        {
            using var group = ProcessGroup.Gloo("127.0.0.1", port, rank, 2, TimeSpan.FromSeconds(30));
            using var a = full(new long[] { 3 }, rank + 1.0);
            using var b = arange(4).to(ScalarType.Float32).mul(rank == 0 ? 1 : 10).view(2, 2);
            group.AllReduceSum([a, b]);
            group.Barrier();
            results[rank] = [a.ToArray<float>(), b.contiguous().ToArray<float>()];
        })).ToArray();
        await Task.WhenAll(ranks).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var r in results)
        {
            Assert.Equal(new float[] { 3, 3, 3 }, r[0]);
            Assert.Equal(new float[] { 0, 11, 22, 33 }, r[1]);
        }
    }

    [Fact]
    public async Task AGroupMadeAgainOnTheSamePortMeetsAtOnce()
    {
        // Rank 0 of a re-formed run serves its store on the port the last one's used: it must be free again.
        var port = Ports.Free();
        for (var round = 0; round < 2; round++)
        {
            var ranks = Enumerable.Range(0, 2).Select(rank => Task.Run(() =>
            {
                using var group = ProcessGroup.Gloo("127.0.0.1", port, rank, 2, TimeSpan.FromSeconds(20));
                using var t = full(new long[] { 2 }, 1.0);
                group.AllReduceSum([t]);
                return t.ToArray<float>()[0];
            })).ToArray();
            var sums = await Task.WhenAll(ranks).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(new[] { 2f, 2f }, sums);
        }
    }

    [Fact]
    public void ARankWhoseStoreNeverAnswersFailsWithinItsTimeout()
    {
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<TorchException>(() => ProcessGroup.Gloo("127.0.0.1", Ports.Free(), 1, 2, TimeSpan.FromSeconds(2)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.Throws<TorchException>(() => ProcessGroup.Gloo("127.0.0.1", 1234, 2, 2, TimeSpan.FromSeconds(2)));   // rank out of the world
    }
}
