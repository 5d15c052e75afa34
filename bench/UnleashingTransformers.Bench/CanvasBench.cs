using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Canvas cost: window passes of the parallel canvas against the reference's big-sample algorithm
/// (raster order, one token a step, every 16x16 window at stride 1: H·W·(H−15)·(W−15) passes), wall
/// time on a model, and replica scaling.
/// </summary>
internal static class CanvasBench
{
    /// <summary>Answers every window with a uniform distribution: pass counts do not depend on it.</summary>
    private sealed class CountingPool(int length, int codebook) : IWindowPool
    {
        public int WindowLength => length;
        public int CodebookSize => codebook;
        public int MaskId => codebook;

        public Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default) =>
            Task.FromResult<IReadOnlyList<WindowResult>>(requests.Select(r =>
                new WindowResult(r.RequestId, r.WindowId, System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Repeat(1f / codebook,
                    r.Positions.Length * codebook).ToArray().AsSpan()).ToArray())).ToList());

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public static int Run(int threads)
    {
        set_num_threads(1); // replicas of one thread each (libtorch and OpenBLAS)
        set_blas_threads(1);
        Console.WriteLine("canvas: 16x16 windows, stride 8 (half a window), parallel order, mean aggregation");
        Console.WriteLine();
        Console.WriteLine("| canvas (tokens) | S | window passes, this project | reference passes (raster, stride 1) | fewer by |");
        Console.WriteLine("|---|---|---|---|---|");
        var counts = new Dictionary<(int, int, int), long>();
        foreach (var (h, w) in new[] { (32, 16), (64, 64) })
            foreach (var s in new[] { 256, 64 })
            {
                var canvas = new CanvasCoordinator(new CountingPool(256, 1024), new CanvasOptions(h, w, 16, 16, 8, 8, s, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Parallel,
                    ScheduleChoice.Reciprocal, TilingKind.Overlap));
                canvas.RunAsync().GetAwaiter().GetResult();
                long reference = (long)h * w * (h - 15) * (w - 15);
                counts[(h, w, s)] = canvas.WindowPasses;
                Console.WriteLine($"| {h}x{w} | {s} | {canvas.WindowPasses:N0} | {reference:N0} | {reference / (double)canvas.WindowPasses:N0}x |");
            }

        // Wall time on a mid-size prior (512 wide is the reference; 256 wide, 8 layers here so the run
        // takes minutes, not hours), and the per-pass cost of the reference size to project from.
        Console.WriteLine();
        using var scope = NewDisposeScope();
        var mid = new TransformerConfig(1024, 256, 8, 8, 256);
        double MsPerPass(TransformerConfig c)
        {
            manual_seed(0);
            using var m = new AbsorbingDiffusion(c);
            m.eval();
            using var inf = new TransformerInference(m.TransformerBackbone);
            var x = randint(0, 1025, new long[] { 8, 256 });
            var rows = arange(8);
            var pos = zeros(new long[] { 8 }, int64);
            inf.ProbabilitiesAt(x, rows, pos).Dispose();
            var sw = Stopwatch.StartNew();
            inf.ProbabilitiesAt(x, rows, pos).Dispose();
            return sw.Elapsed.TotalMilliseconds / 8;
        }
        var midPass = MsPerPass(mid);
        var fullPass = MsPerPass(new TransformerConfig());
        Console.WriteLine($"cost of one window pass (batched by 8, 1 thread): mid-size prior (256 wide, 8 layers) {midPass:F1} ms, reference size {fullPass:F1} ms");
        Console.WriteLine();
        Console.WriteLine("| run (mid-size prior) | window passes | wall time | tokens/s | projected at reference size |");
        Console.WriteLine("|---|---|---|---|---|");
        (long passes, double seconds) Time(CanvasOptions o, int replicas)
        {
            var models = Enumerable.Range(0, replicas).Select(_ => { manual_seed(0); var m = new AbsorbingDiffusion(mid); m.eval(); return m; }).ToList();
            var inf = models.Select(m => new TransformerInference(m.TransformerBackbone)).ToList();
            var pool = new InProcessWindowPool(inf.Select(i => (ITokenDenoiser)new TransformerDenoiser(i, Device.CPU)).ToList(), 8);
            var canvas = new CanvasCoordinator(pool, o);
            var sw = Stopwatch.StartNew();
            canvas.RunAsync().GetAwaiter().GetResult();
            var seconds = sw.Elapsed.TotalSeconds;
            pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
            foreach (var i in inf) i.Dispose();
            foreach (var m in models) m.Dispose();
            return (canvas.WindowPasses, seconds);
        }
        foreach (var (h, w, s) in new[] { (32, 16, 64), (32, 16, 256) })
        {
            var (passes, seconds) = Time(new CanvasOptions(h, w, 16, 16, 8, 8, s, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Parallel, ScheduleChoice.Reciprocal,
                TilingKind.Overlap), 1);
            Console.WriteLine($"| {h}x{w}, S = {s}, 1 replica | {passes:N0} | {seconds:F1} s | {h * w / seconds:F1} | {passes * fullPass / 1000:F0} s |");
        }
        foreach (var (h, w) in new[] { (64, 64) })
            foreach (var s in new[] { 256, 64 })
                Console.WriteLine($"| {h}x{w}, S = {s} (counted, not run) | {counts[(h, w, s)]:N0} | ~{counts[(h, w, s)] * midPass / 1000:F0} s | | {counts[(h, w, s)] * fullPass / 1000:F0} s |");
        // The reference algorithm itself, timed on a small canvas: raster order, stride 1.
        var (rp, rs) = Time(new CanvasOptions(18, 18, 16, 16, 1, 1, 0, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Raster, ScheduleChoice.Reciprocal, TilingKind.Overlap), 1);
        var (pp, ps) = Time(new CanvasOptions(18, 18, 16, 16, 8, 8, 64, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Parallel, ScheduleChoice.Reciprocal, TilingKind.Overlap), 1);
        Console.WriteLine($"| 18x18, reference algorithm (raster, stride 1; covering windows only) | {rp:N0} | {rs:F1} s | {324 / rs:F1} | |");
        Console.WriteLine($"| 18x18, parallel, S = 64 | {pp:N0} | {ps:F1} s | {324 / ps:F1} | |");
        Console.WriteLine($"(the reference evaluates all 9 windows every step: {324 * 9:N0} passes on 18x18)");

        Console.WriteLine();
        Console.WriteLine("| replicas (1 thread each), 32x16, S = 64 | wall time | tokens/s | scaling efficiency |");
        Console.WriteLine("|---|---|---|---|");
        var o64 = new CanvasOptions(32, 16, 16, 16, 8, 8, 64, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Parallel, ScheduleChoice.Reciprocal, TilingKind.Overlap);
        var one = Time(o64, 1);
        var two = Time(o64, 2);
        Console.WriteLine($"| 1 | {one.seconds:F1} s | {512 / one.seconds:F1} | 1.00 |");
        Console.WriteLine($"| 2 | {two.seconds:F1} s | {512 / two.seconds:F1} | {one.seconds / two.seconds / 2:F2} |");
        return 0;
    }
}
