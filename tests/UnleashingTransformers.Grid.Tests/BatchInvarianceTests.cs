using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using Xunit;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>The determinism contract's float half: a window's probabilities are the same bits whatever else
/// shared its pass (batch size, composition, the other windows' wanted positions).</summary>
public class BatchInvarianceTests
{
    internal static readonly string Prior = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "absorbing_ema.th");

    [Fact]
    public void AWindowGetsTheSameBitsAloneAsInAnyBatch()
    {
        var replica = new PriorReplicas(Prior, null, Device.CPU, InferencePrecision.Float32).Load();
        try
        {
            var d = replica.Denoiser;
            var random = new Random(5);
            // Few wanted positions a window, as late canvas steps ask: the output head's product then has
            // few rows, where BLAS's kernel choice (and so the bits) changes with the row count.
            var wantedCounts = new[] { 1, 2, 1, 5, 3, 8, 1, 2, 1, 4 };
            var requests = wantedCounts.Select((n, i) =>
            {
                var tokens = Enumerable.Range(0, d.Length).Select(_ => random.NextDouble() < 0.5 ? d.MaskId : (long)random.Next(d.CodebookSize)).ToArray();
                var positions = Enumerable.Range(0, d.Length).OrderBy(_ => random.Next()).Take(n).Order().ToArray();
                return new WindowRequest(i, i, tokens, positions);
            }).ToArray();
            var alone = requests.Select(r => WindowBatch.Run(d, [r], out _)[0].Probabilities).ToArray();
            foreach (var size in new[] { 2, 3, 8, 10 })
                for (var start = 0; start + size <= requests.Length; start += size)
                {
                    var together = WindowBatch.Run(d, requests[start..(start + size)], out _);
                    for (var i = 0; i < size; i++)
                        Assert.True(alone[start + i].AsSpan().SequenceEqual(together[i].Probabilities), $"window {start + i} in a batch of {size}: other bits than alone");
                }
        }
        finally
        {
            replica.Owner?.Dispose();
        }
    }
}

/// <summary>The contract at a size where a one-in-a-million flip would show: a 256x256-token canvas (65,536 draws a step).</summary>
public class LargeCanvasDeterminismTests
{
    [Fact]
    public async Task A256x256CanvasIsTheSameForAnyReplicaCountAndBatchLimit()
    {
        // Halton reveals few tokens in its first steps (a cosine share): one or two a window, where the
        // batch once changed the output head's bits.
        var spec = new Jobs.CanvasJobSpec { Height = 256, Width = 256, Steps = 8, Tiling = "shifted", Schedule = "halton", Temperature = 1.0, Seed = 17 };
        long[]? first = null;
        foreach (var (replicas, batch) in new[] { (1, 8), (2, 3), (1, 1) })
        {
            var models = Enumerable.Range(0, replicas).Select(_ => new PriorReplicas(BatchInvarianceTests.Prior, null, Device.CPU, InferencePrecision.Float32).Load()).ToList();
            try
            {
                await using var pool = new InProcessWindowPool([.. models.Select(m => m.Denoiser)], batch);
                var options = Jobs.JobSpecs.ToOptions(spec, 8, 8);
                var tokens = await new Canvas.CanvasCoordinator(pool, options).RunAsync();
                if (first is null) first = tokens;
                else
                {
                    var differing = first.Zip(tokens).Count(p => p.First != p.Second);
                    Assert.True(differing == 0, $"{replicas} replica(s), batch {batch}: {differing} of {tokens.Length} tokens differ from 1 replica, batch 8");
                }
            }
            finally
            {
                foreach (var m in models) m.Owner?.Dispose();
            }
        }
    }
}
