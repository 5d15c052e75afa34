using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Silo;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// The grid on Orleans against the in-process pool. This process is a silo of the cluster (no roles: it
/// only calls), like a canvas silo; window silos are separate `ut silo` processes on a throwaway
/// redis-server. (a) what Orleans adds per window batch between two silos, with replicas that compute
/// nothing, beside the bundled model's compute for the same batch; (b) canvas tokens/s with real replicas
/// on 1 and 2 window silos; (c) scaling: replicas that sleep a fixed time per batch (as a GPU would) on up
/// to 4 window silos, 1 to 16 replicas.
/// </summary>
internal static class GridBench
{
    private static string Ut => Path.Combine(AppContext.BaseDirectory, "ut.dll");
    private static readonly string Bundled = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "absorbing_ema.th");

    /// <param name="overheadOnly">(a) only, over TCP and mutual TLS (<c>bench grid-overhead</c>).</param>
    public static int Run(bool overheadOnly = false)
    {
        set_num_threads(1);
        set_blas_threads(1);
        var dir = Directory.CreateTempSubdirectory("ut-gridbench-").FullName;
        using var redis = new RedisServer();
        var prior = new PriorReplicas(Bundled, 8, Device.CPU, InferencePrecision.Float32);
        var info = prior.Describe();
        // (a) again on a cluster with mutual TLS (its own redis, certificates from ut certs): what TLS adds.
        var certs = Path.Combine(dir, "certs");
        RunUt("certs", "--out", certs);
        var tls = new SiloConfig.TlsSettings { CaFile = Path.Combine(certs, "ca.pem"), CertificateFile = Path.Combine(certs, "silo.pem"), KeyFile = Path.Combine(certs, "silo.key") };
        var overheads = new List<string>();
        using (var tlsRedis = new RedisServer())
        {
            using var tlsCaller = CallerSilo(tlsRedis, dir, tls);
            try
            {
                overheads.Add(Overhead(tlsRedis, dir, tlsCaller, prior, info, tls));
            }
            finally
            {
                tlsCaller.StopAsync().GetAwaiter().GetResult();
            }
        }
        using var caller = CallerSilo(redis, dir);
        try
        {
            overheads.Insert(0, Overhead(redis, dir, caller, prior, info));
            Console.WriteLine("(a) one window batch (8 windows of the bundled prior, 4 wanted positions each): in-process vs through Orleans to a replica on another silo");
            Console.WriteLine();
            Console.WriteLine("| connections | payload back | in-process, replica computes nothing (p50) | Orleans, 2 silos, replica computes nothing (p50 / p90) | Orleans adds (p50) | bundled " +
                "model's compute for the batch (p50) | overhead / compute |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            foreach (var row in overheads) Console.WriteLine(row);
            Console.WriteLine();
            if (!overheadOnly)
            {
                Canvases(redis, dir, caller, info);
                Scaling(redis, dir, caller, info);
            }
        }
        finally
        {
            caller.StopAsync().GetAwaiter().GetResult();
            Directory.Delete(dir, true);
        }
        return 0;
    }

    /// <summary>An Orleans silo in this process, with no roles: the canvas side of the measurements.</summary>
    private static IHost CallerSilo(RedisServer redis, string dir, SiloConfig.TlsSettings? tls = null)
    {
        var config = new SiloConfig
        {
            StateDirectory = dir,
            Cluster = new SiloConfig.ClusterSettings { Provider = "redis", Redis = redis.Endpoint, SiloPort = Ports.Free(), GatewayPort = Ports.Free(), SiloName = "bench" },
        };
        var clusterTls = tls is null ? null : ClusterTls.Load(tls);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = dir });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => OrleansSetup.Configure(silo, config, clusterTls));
        builder.Services.AddSingleton<ReplicaDirectory>();
        var host = builder.Build();
        host.StartAsync().GetAwaiter().GetResult();
        return host;
    }

    private static OrleansWindowPool Pool(IHost caller, PriorInfo info, int replicas)
    {
        var directory = caller.Services.GetRequiredService<ReplicaDirectory>();
        var sw = Stopwatch.StartNew();
        while (directory.Current().Count != replicas)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{directory.Current().Count} of {replicas} replicas visible");
            Thread.Sleep(100);
        }
        return new OrleansWindowPool(caller.Services.GetRequiredService<IGrainFactory>(), new ReplicaChoice(directory, new WindowPoolOptions()), info, new ModelKey("terrain", info.Version),
            new WindowPoolOptions());
    }

    /// <summary>Window silos (`ut silo`, window role, Threads 1) in the cluster, started side by side.</summary>
    private static void RunUt(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true };
        foreach (var a in new[] { Ut }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ut {string.Join(' ', args)} failed");
    }

    private static List<Process> WindowSilos(RedisServer redis, string dir, int silos, int replicasEach, double? simulatedMs, SiloConfig.TlsSettings? tls = null)
    {
        var started = Enumerable.Range(0, silos).Select(i =>
        {
            var config = Path.Combine(dir, $"window-{i}.json");
            File.WriteAllText(config, JsonSerializer.Serialize(new
            {
                Roles = new[] { "window" }, Threads = 1, StateDirectory = dir, Models = new[] { new { Name = "terrain", Prior = Bundled, VqGan = Path.Combine(Path.GetDirectoryName(Bundled)!,
                    "vqgan_ema.th"), Heads = 8 } },
                Cluster = new { Provider = "redis", Redis = redis.Endpoint, SiloPort = Ports.Free(), GatewayPort = Ports.Free(), Tls = tls ?? new SiloConfig.TlsSettings() },
                Window = new { Replicas = replicasEach, MaxBatch = 8, MaxWaitMs = 2, SimulatedBatchMs = simulatedMs },
            }));
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { Ut, "silo", "--config", config }) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            var ready = new TaskCompletionSource();
            p.OutputDataReceived += (_, e) => { if (e.Data?.Contains("silo: started") == true) ready.TrySetResult(); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"silo {i}: {e.Data}"); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return (p, ready.Task);
        }).ToList();
        foreach (var (p, ready) in started)
            if (!ready.Wait(TimeSpan.FromSeconds(90))) throw new InvalidOperationException("a window silo did not start");
        return started.Select(s => s.p).ToList();
    }

    private static void Stop(List<Process> silos)
    {
        foreach (var s in silos) { s.Kill(true); s.WaitForExit(); s.Dispose(); }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>(a): one table row, for plain TCP or (<paramref name="tls"/> given) mutual TLS between the silos.</summary>
    private static string Overhead(RedisServer redis, string dir, IHost caller, PriorReplicas prior, PriorInfo info, SiloConfig.TlsSettings? tls = null)
    {
        var requests = Enumerable.Range(0, 8).Select(i => new WindowRequest(i, i, Enumerable.Repeat((long)info.MaskId, info.WindowLength).ToArray(), [0, 1, 2, 3])).ToList();
        List<double> Times(IWindowPool pool, int reps)
        {
            for (var i = 0; i < 20; i++) pool.EvaluateAsync(requests).GetAwaiter().GetResult();
            var times = new List<double>();
            for (var i = 0; i < reps; i++)
            {
                var sw = Stopwatch.StartNew();
                pool.EvaluateAsync(requests).GetAwaiter().GetResult();
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            return times;
        }
        var instant = new InProcessWindowPool([new SimulatedDenoiser(info.WindowLength, info.CodebookSize, TimeSpan.Zero)], 8);
        var local = Times(instant, 300);
        instant.DisposeAsync().AsTask().GetAwaiter().GetResult();
        var model = prior.Load();
        var real = new InProcessWindowPool([model.Denoiser], 8);
        var compute = Times(real, 50);
        real.DisposeAsync().AsTask().GetAwaiter().GetResult();
        model.Owner?.Dispose();

        var silos = WindowSilos(redis, dir, 1, 1, simulatedMs: 0, tls);
        List<double> remote;
        try
        {
            remote = Times(Pool(caller, info, 1), 300);
        }
        finally
        {
            Stop(silos);
        }
        var overhead = Median(remote) - Median(local);
        return $"| {(tls is null ? "TCP" : "mutual TLS")} | {8 * 4 * info.CodebookSize * 4 / 1024} KiB | {Median(local):F3} ms | {Median(remote):F2} / " +
            $"{remote.Order().ElementAt(remote.Count * 9 / 10):F2} ms | " +
            $"{overhead:F2} ms | {Median(compute):F2} ms | {100 * overhead / Median(compute):F0} % |";
    }

    private static void Canvases(RedisServer redis, string dir, IHost caller, PriorInfo info)
    {
        Console.WriteLine("(b) canvas tokens/s, bundled prior, 32x64 tokens, S = 256: window passes in this process (1 replica, 1 thread) or on window silos (`ut silo`, Threads 1, MaxBatch 8)");
        Console.WriteLine();
        var options = new CanvasOptions(32, 64, 8, 8, 4, 4, 256, TokenSampling.Plain(0.8), 0, AggregationKind.Mean, RevealOrder.Parallel, ScheduleChoice.Reciprocal, TilingKind.Overlap);
        (double seconds, long[] tokens) Run(IWindowPool pool)
        {
            var canvas = new CanvasCoordinator(pool, options);
            var sw = Stopwatch.StartNew();
            canvas.RunAsync().GetAwaiter().GetResult();
            return (sw.Elapsed.TotalSeconds, canvas.Tokens);
        }
        using var model = PriorCheckpoint.Load(Bundled, 8);
        using var inference = new TransformerInference(model.TransformerBackbone);
        var local = new InProcessWindowPool([new TransformerDenoiser(inference, Device.CPU)], 8);
        var inProcess = Run(local);
        local.DisposeAsync().AsTask().GetAwaiter().GetResult();
        var results = new List<(double seconds, long[] tokens)>();
        foreach (var count in new[] { 1, 2 })
        {
            var silos = WindowSilos(redis, dir, count, 1, simulatedMs: null);
            try
            {
                results.Add(Run(Pool(caller, info, count)));
            }
            finally
            {
                Stop(silos);
            }
        }
        var same = results.All(r => r.tokens.SequenceEqual(inProcess.tokens)) ? "yes" : "NO";
        Console.WriteLine("| in-process, 1 replica | 1 window silo | 2 window silos | 2 silos vs 1 | same tokens |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine($"| {options.Cells / inProcess.seconds:F1} tok/s ({inProcess.seconds:F1} s) | {options.Cells / results[0].seconds:F1} tok/s ({results[0].seconds:F1} s) | " +
            $"{options.Cells / results[1].seconds:F1} tok/s ({results[1].seconds:F1} s) | {results[0].seconds / results[1].seconds:F2}x | {same} |");
        Console.WriteLine();
    }

    private static void Scaling(RedisServer redis, string dir, IHost caller, PriorInfo info)
    {
        const double batchMs = 25;
        Console.WriteLine($"(c) scaling by simulation: replicas that sleep {batchMs} ms per batch (MaxBatch 8), on up to 4 window silo processes; " +
            "callers in this silo send one window per call, 16 calls in flight per replica, for 5 s");
        Console.WriteLine();
        Console.WriteLine("| replicas | silos x replicas | windows/s | vs 1 replica | ideal (N x 8 / 25 ms) | mean batch |");
        Console.WriteLine("|---|---|---|---|---|---|");
        double? one = null;
        foreach (var n in new[] { 1, 2, 4, 8, 16 })
        {
            var silos = Math.Min(4, n);
            var processes = WindowSilos(redis, dir, silos, n / silos, batchMs);
            try
            {
                var pool = Pool(caller, info, n);
                var request = new WindowRequest(0, 0, Enumerable.Repeat((long)info.MaskId, info.WindowLength).ToArray(), [0]);
                long done = 0;
                var warm = Stopwatch.StartNew();
                var measuring = false;
                var sw = new Stopwatch();
                async Task Caller()
                {
                    while (warm.Elapsed < TimeSpan.FromSeconds(7))
                    {
                        await pool.EvaluateAsync([request]);
                        if (measuring) Interlocked.Increment(ref done);
                    }
                }
                var callers = Enumerable.Range(0, 16 * n).Select(_ => Task.Run(Caller)).ToList();
                Thread.Sleep(2000); // warm-up: activations, connections, JIT
                measuring = true;
                sw.Start();
                Task.WaitAll(callers);
                sw.Stop();
                var rate = done / sw.Elapsed.TotalSeconds;
                one ??= rate;
                var ideal = n * 8 * 1000 / batchMs;
                var mean = MeanBatch(processes);
                Console.WriteLine($"| {n} | {silos} x {n / silos} | {rate:F0} | {rate / one:F2}x | {ideal:F0} | {mean} |");
            }
            finally
            {
                Stop(processes);
            }
        }
        Console.WriteLine();
    }

    /// <summary>Stops the silos gracefully and reads "served R requests in B batches" from each.</summary>
    private static string MeanBatch(List<Process> silos)
    {
        long requests = 0, batches = 0;
        foreach (var p in silos)
        {
            var lines = new List<string>();
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
            Process.Start("kill", ["-TERM", p.Id.ToString()])!.WaitForExit();
            p.WaitForExit(30_000);
            p.WaitForExit();
            foreach (var line in lines.Where(l => l.Contains(" served ")))
            {
                var parts = line.Split(" served ")[1].Split(' ');
                requests += long.Parse(parts[0]);
                batches += long.Parse(parts[3]);
            }
        }
        return batches == 0 ? "?" : $"{(double)requests / batches:F1}";
    }
}
