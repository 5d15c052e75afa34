using System.Diagnostics;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Bench;

/// <summary>
/// What the canvas coordinator itself costs as canvases grow: a pool that answers at once (uniform
/// distributions over the reference's 1,024 codes, 16x16 windows), so every second is the coordinator's
/// (schedule, window requests, aggregation, draws) and the pool's allocations. Each size runs in a child
/// process of its own, which reports its time and its peak memory above what it held before the canvas.
/// </summary>
internal static class CoordinatorBench
{
    private sealed class InstantPool : IWindowPool
    {
        public int WindowLength => 256;
        public int CodebookSize => 1024;
        public int MaskId => 1024;

        public Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default)
        {
            var results = new WindowResult[requests.Count];
            for (var i = 0; i < requests.Count; i++)
            {
                var probabilities = new float[requests[i].Positions.Length * CodebookSize];
                Array.Fill(probabilities, 1f / CodebookSize);
                results[i] = new WindowResult(requests[i].RequestId, requests[i].WindowId, MemoryMarshal.AsBytes(probabilities.AsSpan()).ToArray());
            }
            return Task.FromResult<IReadOnlyList<WindowResult>>(results);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public static int Run()
    {
        Console.WriteLine("coordinator: 16x16 windows, codebook 1,024, reciprocal schedule S = 256, a pool that answers at once; one child process per row");
        Console.WriteLine("| canvas (tokens) | tokens | tiling | window passes | seconds | us per revealed token | peak MB above the process's base | bytes per canvas token |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var side in new[] { 64, 128, 256, 512, 1024, 2048 })
            foreach (var tiling in new[] { "overlap", "shifted" })
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
                foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "UnleashingTransformers.Bench.dll"), "coordinator-child", side.ToString(), tiling })
                    psi.ArgumentList.Add(a);
                if (!Environment.ProcessPath!.EndsWith("dotnet")) psi.ArgumentList.RemoveAt(0);
                using var p = Process.Start(psi)!;
                var line = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1].Split(' ');
                p.WaitForExit();
                var (passes, seconds, peakMb) = (long.Parse(line[0]), double.Parse(line[1]), double.Parse(line[2]));
                var cells = (long)side * side;
                Console.WriteLine($"| {side}x{side} | {cells:N0} | {tiling} | {passes:N0} | {seconds:F1} | {seconds * 1e6 / cells:F2} | {peakMb:F0} | {peakMb * (1 << 20) / cells:F0} |");
            }
        return 0;
    }

    /// <summary>Child process: one canvas; prints "passes seconds peakMB-above-base".</summary>
    public static int Child(int side, string tiling)
    {
        static double PeakMb()
        {
            foreach (var l in File.ReadLines("/proc/self/status"))
                if (l.StartsWith("VmHWM:")) return double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
            return 0;
        }
        var pool = new InstantPool();
        var warm = new CanvasCoordinator(pool, Options(32, tiling));   // JIT and first allocations before the base is read
        warm.RunAsync().GetAwaiter().GetResult();
        GC.Collect();
        var baseMb = PeakMb();
        var sw = Stopwatch.StartNew();
        var canvas = new CanvasCoordinator(pool, Options(side, tiling));
        canvas.RunAsync().GetAwaiter().GetResult();
        Console.WriteLine($"{canvas.WindowPasses} {sw.Elapsed.TotalSeconds:F3} {PeakMb() - baseMb:F1}");
        return 0;
    }

    private static CanvasOptions Options(int side, string tiling) =>
        new(side, side, 16, 16, 8, 8, 256, TokenSampling.Plain(1.0), 0, AggregationKind.Mean, RevealOrder.Parallel, ScheduleChoice.Reciprocal,
            tiling == "shifted" ? TilingKind.Shifted : TilingKind.Overlap);
}
