using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using UnleashingTransformers.Testing;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Many users on one grid (issue 29): a stream of small interactive jobs (16x32 tokens, 16 steps, one a second)
/// alone, a big batch job (256x256 tokens) alone, and both at once, on 2 window silos with simulated replicas
/// (2 ms a window pass: the grid's scheduling, not the model's compute) and a canvas + gateway silo, all
/// `ut silo` processes on a throwaway redis. Small jobs' latency (submit to done) p50 / p95, the big job's
/// time, and the windows per batch the replicas took (from their metrics).
/// </summary>
internal static partial class MixedLoadBench
{
    private static readonly string Models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");

    /// <summary>Runs <paramref name="measure"/> (given the gateway, once ready, and the window silos' ops ports) on a grid
    /// of its own: two window silos (each serving <paramref name="models"/>, simulated replicas when
    /// <paramref name="simulatedMs"/> is given) and a canvas + gateway silo taking <paramref name="maxJobs"/> jobs at
    /// once, on a throwaway redis; all gone afterwards.</summary>
    private static int OnGrid(string[] models, double? simulatedMs, int maxJobs, Action<HttpClient, List<int>> measure)
    {
        var dir = Directory.CreateTempSubdirectory("ut-mixed-").FullName;
        using var redis = new RedisServer();
        var silos = new List<BigImageBench.Silo>();
        try
        {
            using var http = Start(dir, redis, silos, models, simulatedMs, maxJobs, out var ops);
            measure(http, ops);
        }
        finally
        {
            foreach (var s in silos) { s.Process.Kill(true); s.Process.WaitForExit(); }
            Directory.Delete(dir, true);
        }
        return 0;
    }

    private static HttpClient Start(string dir, RedisServer redis, List<BigImageBench.Silo> silos, string[] models, double? simulatedMs, int maxJobs, out List<int> ops)
    {
        var cluster = (Func<object>)(() => new { Provider = "redis", Redis = redis.Endpoint, SiloPort = Ports.Free(), GatewayPort = Ports.Free() });
        var listed = models.Select(name => new { Name = name, Prior = Path.Combine(Models, "absorbing_ema.th"), VqGan = Path.Combine(Models, "vqgan_ema.th") }).ToArray();
        ops = [];
        for (var i = 0; i < 2; i++)
        {
            ops.Add(Ports.Free());
            silos.Add(BigImageBench.Start(dir, $"window-{i}", new
            {
                Roles = new[] { "window" }, Threads = 1, StateDirectory = dir, Models = listed, Cluster = cluster(),
                Window = new { Replicas = 1, MaxBatch = 8, MaxWaitMs = 2, SimulatedBatchMs = simulatedMs }, Ops = new { Port = ops[^1] },
            }));
        }
        var port = Ports.Free();
        silos.Add(BigImageBench.Start(dir, "canvas", new
        {
            Roles = new[] { "canvas", "gateway" }, Threads = 1, StateDirectory = dir, Models = listed.Select(m => new { m.Name, m.Prior }).ToArray(), Cluster = cluster(),
            Canvas = new { MaxJobs = maxJobs, RequestTimeoutSeconds = 600, MaxPending = 256 }, Gateway = new { Port = port },
        }));
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(5) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!BigImageBench.Ready(http) && DateTime.UtcNow < deadline) Thread.Sleep(200);
        return http;
    }

    public static int Run(int seconds) => OnGrid(["terrain"], simulatedMs: 2.0, maxJobs: 2, (http, ops) =>
        {
            var small = new { height = 16, width = 32, steps = 16, seed = 1 };
            var big = new { height = 256, width = 256, steps = 16, seed = 2 };
            // Warm: the first jobs of a fresh cluster pay for activations and JIT, which is not what is measured.
            for (var i = 0; i < 3; i++) Time(http, small);
            var alone = Stream(http, small, seconds);
            var (bigAlone, _) = Time(http, big);
            var before = Batches(ops);
            var bigRun = Task.Run(() => Time(http, big));
            Thread.Sleep(2000);
            var during = Stream(http, small, seconds);
            var (bigWith, _) = bigRun.GetAwaiter().GetResult();
            var after = Batches(ops);
            var perBatch = (after.windows - before.windows) / Math.Max(1, after.batches - before.batches);
            Console.WriteLine($"small jobs 16x32 tokens, 16 steps, one a second for {seconds} s; big job 256x256 tokens, 16 steps; 2 window silos (2 ms a window pass, MaxBatch 8)");
            Console.WriteLine();
            Console.WriteLine("| | small jobs p50 | small jobs p95 | small jobs done | big job | windows per batch (both) |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Console.WriteLine($"| alone | {P(alone, 50):F2} s | {P(alone, 95):F2} s | {alone.Count} | {bigAlone:F1} s | |");
            Console.WriteLine($"| together | {P(during, 50):F2} s | {P(during, 95):F2} s | {during.Count} | {bigWith:F1} s | {perBatch:F1} |");
            Console.WriteLine($"| together / alone | {P(during, 50) / P(alone, 50):F2}x | {P(during, 95) / P(alone, 95):F2}x | | {bigWith / bigAlone:F2}x | |");
        });

    /// <summary>
    /// Two models served at once (<c>bench models</c>): the bundled prior under two names, each its own replicas (the
    /// real model, not simulated), on the same 2 window silos. Each model's throughput with <paramref name="jobs"/> jobs
    /// (32x32 tokens, 32 steps) alone, then both models' jobs together; the goal: each at its throughput alone times
    /// its share (1/2).
    /// </summary>
    public static int RunModels(int jobs)
    {
        string[] models = ["terrain", "terrain-b"];
        return OnGrid(models, simulatedMs: null, maxJobs: 2 * jobs, (http, _) =>
        {
            object Job(string model, int seed) => new { height = 32, width = 32, steps = 32, seed, model };
            // Warm: each model's first job loads it on the window silos.
            foreach (var m in models) Time(http, Job(m, 0));
            // Each model's tokens/s: its jobs' tokens over the time until its last one is done.
            double Throughput(string model, Stopwatch clock, int seed0)
            {
                Task.WaitAll([.. Enumerable.Range(0, jobs).Select(i => Task.Run(() => Time(http, Job(model, seed0 + i))))]);
                return jobs * 32.0 * 32 / clock.Elapsed.TotalSeconds;
            }
            var alone = models.Select((m, i) => Throughput(m, Stopwatch.StartNew(), 100 * (i + 1))).ToArray();
            var clock = Stopwatch.StartNew();
            var both = models.Select((m, i) => Task.Run(() => Throughput(m, clock, 1000 * (i + 1)))).ToArray();
            var together = Task.WhenAll(both).GetAwaiter().GetResult();
            Console.WriteLine($"two models (the bundled prior under two names, each its own replicas) on 2 window silos (1 replica, 1 thread each); {jobs} jobs a model of 32x32 tokens, 32 steps");
            Console.WriteLine();
            Console.WriteLine("| model | alone, tokens/s | both at once, tokens/s | at once / (alone x 1/2) |");
            Console.WriteLine("|---|---|---|---|");
            for (var i = 0; i < models.Length; i++)
                Console.WriteLine($"| {models[i]} | {alone[i]:F1} | {together[i]:F1} | {together[i] / (alone[i] / 2):F2} |");
            Console.WriteLine($"| both | | {together.Sum():F1} | {together.Sum() / alone.Average():F2} of one model alone |");
        });
    }

    /// <summary>One job a second for <paramref name="seconds"/>; each one's time from submit to done.</summary>
    private static List<double> Stream(HttpClient http, object job, int seconds)
    {
        var runs = new List<Task<(double seconds, string id)>>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < seconds; i++)
        {
            runs.Add(Task.Run(() => Time(http, job)));
            var next = TimeSpan.FromSeconds(i + 1) - clock.Elapsed;
            if (next > TimeSpan.Zero) Thread.Sleep(next);
        }
        return [.. Task.WhenAll(runs).GetAwaiter().GetResult().Select(r => r.seconds)];
    }

    private static (double seconds, string id) Time(HttpClient http, object job)
    {
        var clock = Stopwatch.StartNew();
        var created = http.PostAsJsonAsync("jobs", job).GetAwaiter().GetResult();
        if (!created.IsSuccessStatusCode) throw new InvalidOperationException(created.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        var id = JsonDocument.Parse(created.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.GetProperty("id").GetString()!;
        while (true)
        {
            var state = JsonDocument.Parse(http.GetStringAsync($"jobs/{id}").GetAwaiter().GetResult()).RootElement.GetProperty("state").GetString();
            if (state == "done") return (clock.Elapsed.TotalSeconds, id);
            if (state is "failed" or "cancelled") throw new InvalidOperationException($"job {id} {state}");
            Thread.Sleep(50);
        }
    }

    private static double P(List<double> values, int percentile) => values.Order().ElementAt(Math.Min(values.Count - 1, values.Count * percentile / 100));

    /// <summary>Windows served and batches run, summed over the window silos' metrics.</summary>
    private static (double windows, double batches) Batches(List<int> opsPorts)
    {
        double windows = 0, batches = 0;
        using var scrape = new HttpClient();
        foreach (var port in opsPorts)
        {
            var text = scrape.GetStringAsync($"http://127.0.0.1:{port}/metrics").GetAwaiter().GetResult();
            windows += Sum(text, "ut_window_batch_size_sum");
            batches += Sum(text, "ut_window_batch_size_count");
        }
        return (windows, batches);
    }

    private static double Sum(string metrics, string name) =>
        Regex.Matches(metrics, $@"^{name}(\{{[^}}]*\}})? ([\d.eE+-]+)", RegexOptions.Multiline).Sum(m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
}
