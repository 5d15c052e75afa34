using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Training;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

/// <summary>A training batch's noise drawn row by row: what lets data-parallel ranks draw what one process draws.</summary>
public class RowNoiseTests
{
    [Fact]
    public void ARowDrawsTheSameWhicheverRowsShareItsBatch()
    {
        using var scope = NewDisposeScope();
        // Rows 0..7 of a step's global batch in one process, and as two ranks' shares of 4 rows.
        Tensor Draws(long first, long count)
        {
            using var noise = TrainingStreams.Rows(11, TrainingStreams.PriorStep, 3, first, count);
            var t = noise.RandInt(1, 257, Device.CPU);
            var u = noise.Rand(Device.CPU, 64);
            var k = noise.Categorical(softmax(arange(10).to(ScalarType.Float32).expand(count, 64, 10).contiguous(), -1));
            return cat([t.unsqueeze(1).to(ScalarType.Float32), u, k.to(ScalarType.Float32)], 1);
        }
        var whole = Draws(0, 8);
        Assert.True(whole.equal(cat([Draws(0, 4), Draws(4, 4)])));
        Assert.True(whole[5].equal(Draws(5, 1)[0]));
        Assert.False(whole[0].equal(whole[1]));                 // rows are streams of their own
        using var other = TrainingStreams.Rows(11, TrainingStreams.PriorStep, 4, 0, 8);
        Assert.False(other.Rand(Device.CPU, 64).equal(whole[.., 1..65]));   // and steps too
    }

    [Fact]
    public void CategoricalDrawsFollowTheirProbabilities()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new float[] { 0.1f, 0.2f, 0.3f, 0.4f });
        using var noise = RowNoise.Seeded(5, 4);
        var draws = noise.Categorical(p.expand(4, 20000, 4).contiguous()).flatten().ToArray<long>();
        for (var k = 0; k < 4; k++)
            Assert.InRange(draws.Count(d => d == k) / 80000.0, p[k].item<float>() - 0.01, p[k].item<float>() + 0.01);
    }
}
