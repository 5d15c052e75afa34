using System.Diagnostics;
using System.Text.Json;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Transports.InProcess;
using UnleashingTransformers.Grid.Transports.RabbitMq;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Silo.Tests;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// The grid over RabbitMQ against the in-process pool: (1) what the broker adds per window batch, with
/// replicas that compute nothing, so only transport is timed; (2) tokens/s of canvas jobs whose window
/// passes run on 1 or 2 window silos (separate `ut silo` processes, one thread each) against in-process
/// replicas. Starts its own rabbitmq-server on a free loopback port.
/// </summary>
internal static class GridBench
{
    /// <summary>A replica that answers at once (uniform rows): the transport is all that is timed.</summary>
    private sealed class InstantDenoiser(int length, int codebook) : ITokenDenoiser
    {
        public int Length => length;
        public int CodebookSize => codebook;
        public int MaskId => codebook;
        public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted) =>
            Enumerable.Repeat(1f / codebook, wanted.Count * codebook).ToArray();
    }

    private static string Ut => Path.Combine(AppContext.BaseDirectory, "ut.dll");

    public static int Run()
    {
        set_num_threads(1);
        set_blas_threads(1);
        using var broker = new RabbitMqBroker();
        var dir = Directory.CreateTempSubdirectory("ut-gridbench-").FullName;
        try
        {
            Overhead(broker);
            Canvases(broker, dir);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
        return 0;
    }

    private static void Overhead(RabbitMqBroker broker)
    {
        Console.WriteLine("broker overhead per window batch (8 windows, 4 wanted positions each; replicas compute nothing)");
        Console.WriteLine();
        Console.WriteLine("| window, codebook | reply payload | in-process pool | RabbitMQ pool (1 replica) | broker adds |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (length, codebook) in new[] { (64, 256), (256, 1024) })
        {
            var requests = Enumerable.Range(0, 8).Select(i => new WindowRequest(i, i, new long[length], [0, 1, 2, 3])).ToList();
            double Time(IWindowPool pool)
            {
                var reps = 300;
                for (var i = 0; i < 30; i++) pool.EvaluateAsync(requests).GetAwaiter().GetResult();
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < reps; i++) pool.EvaluateAsync(requests).GetAwaiter().GetResult();
                return sw.Elapsed.TotalMilliseconds / reps;
            }
            double local;
            var inProcess = new InProcessWindowPool([new InstantDenoiser(length, codebook)], 8);
            try { local = Time(inProcess); } finally { inProcess.DisposeAsync().AsTask().GetAwaiter().GetResult(); }

            var settings = new BrokerSettings { Uri = broker.Uri, Queue = $"bench.{length}" };
            var worker = RabbitMqWindowWorker.ConnectAsync(settings, new ReplicaModel(new InstantDenoiser(length, codebook), "bench"),
                new WindowWorkerOptions { MaxBatch = 8, Prefetch = 16 }).GetAwaiter().GetResult();
            using var stop = new CancellationTokenSource();
            var serving = Task.Run(() => worker.RunAsync(stop.Token));
            double remote;
            var pool = RabbitMqWindowPool.ConnectAsync(settings, "bench", length, codebook, codebook).GetAwaiter().GetResult();
            try { remote = Time(pool); }
            finally
            {
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                stop.Cancel();
                serving.GetAwaiter().GetResult();
                worker.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            Console.WriteLine($"| {length} tokens, {codebook} | {8 * 4 * codebook * 4 / 1024} KiB | {local:F3} ms | {remote:F2} ms | {remote - local:F2} ms |");
        }
        Console.WriteLine();
    }

    private static void Canvases(RabbitMqBroker broker, string dir)
    {
        // The canvas benchmark's mid-size prior (256 wide, 8 layers, 16x16 window, 1024 codes), random
        // weights saved as a checkpoint the silos load; and the bundled terrain prior.
        var mid = Path.Combine(dir, "mid.th");
        using (NewDisposeScope())
        {
            manual_seed(0);
            using var m = new AbsorbingDiffusion(new TransformerConfig(1024, 256, 8, 8, 256));
            save(m.state_dict(), mid);
        }
        var bundled = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "absorbing_ema.th");
        Console.WriteLine("canvas tokens/s: window passes in this process (1 replica, 1 thread) or on window silos (`ut silo`, Threads 1, MaxBatch 8)");
        Console.WriteLine();
        Console.WriteLine("| job | window passes | in-process, 1 replica | 1 window silo | 2 window silos | 2 silos vs 1 | same tokens |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (name, prior, options) in new[]
        {
            ("bundled prior, 32x64, S = 256", bundled, new CanvasOptions(32, 64, 8, 8, 4, 4, 256, 0.8, 0)),
            ("mid-size prior, 32x16, S = 64", mid, new CanvasOptions(32, 16, 16, 16, 8, 8, 64, 0.8, 0)),
        })
        {
            var version = ModelVersion.OfFile(prior);
            using var model = PriorCheckpoint.Load(prior, 8);
            var c = model.Config;
            (double seconds, long passes, long[] tokens) Run(IWindowPool pool)
            {
                var canvas = new CanvasCoordinator(pool, options);
                var sw = Stopwatch.StartNew();
                canvas.RunAsync().GetAwaiter().GetResult();
                return (sw.Elapsed.TotalSeconds, canvas.WindowPasses, canvas.Tokens);
            }
            using var inference = new TransformerInference(model._denoise_fn);
            var local = new InProcessWindowPool([new TransformerDenoiser(inference, Device.CPU)], 8);
            var inProcess = Run(local);
            local.DisposeAsync().AsTask().GetAwaiter().GetResult();

            var results = new List<(double seconds, long passes, long[] tokens)>();
            var silos = new List<Process>();
            try
            {
                foreach (var count in new[] { 1, 2 })
                {
                    while (silos.Count < count) silos.Add(StartWindowSilo(dir, prior, broker.Uri, silos.Count));
                    var pool = RabbitMqWindowPool.ConnectAsync(new BrokerSettings { Uri = broker.Uri }, version, c.BlockSize, c.CodebookSize, c.MaskId).GetAwaiter().GetResult();
                    results.Add(Run(pool));
                    pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
            finally
            {
                foreach (var s in silos) { s.Kill(true); s.WaitForExit(); }
            }
            var cells = options.Cells;
            var same = results.All(r => r.tokens.SequenceEqual(inProcess.tokens)) ? "yes" : "NO";
            Console.WriteLine($"| {name} | {inProcess.passes:N0} | {cells / inProcess.seconds:F1} tok/s ({inProcess.seconds:F1} s) | " +
                $"{cells / results[0].seconds:F1} tok/s ({results[0].seconds:F1} s) | {cells / results[1].seconds:F1} tok/s ({results[1].seconds:F1} s) | " +
                $"{results[0].seconds / results[1].seconds:F2}x | {same} |");
        }
    }

    private static Process StartWindowSilo(string dir, string prior, string uri, int index)
    {
        var config = Path.Combine(dir, $"window-{index}.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            Roles = new[] { "window" }, Threads = 1, Models = new { Prior = prior, Heads = 8 },
            Broker = new { Uri = uri }, Window = new { MaxBatch = 8, Prefetch = 16 },
        }));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Ut, "silo", "--config", config }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        p.OutputDataReceived += (_, e) => { if (e.Data?.Contains("window replica 0 serving") == true) ready.TrySetResult(); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"silo {index}: {e.Data}"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(60))) throw new InvalidOperationException($"window silo {index} did not start");
        return p;
    }
}
