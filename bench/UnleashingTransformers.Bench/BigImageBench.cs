using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using UnleashingTransformers.Testing;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Big canvases through the grid: a canvas silo (canvas + gateway) and 1 or 2 window silos, all `ut silo`
/// processes on a throwaway redis-server. Sampling uses simulated replicas (2 ms a batch, uniform
/// distributions: the grid's cost, not the model's); the decode is the bundled VQ-GAN's, on the window
/// silos. Per run: wall time split into sampling / tiles decoded and blended / PNG written / pyramid, and
/// each silo process's peak RSS (VmHWM) and CPU seconds.
/// </summary>
internal static partial class BigImageBench
{
    private static string Ut => Path.Combine(AppContext.BaseDirectory, "ut.dll");
    private static readonly string Models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");

    public static int Run(int[] sizes, int[] windowSilos)
    {
        Console.WriteLine("| canvas (tokens) | image (px) | window silos | sampling s | tiles decoded + blended s | PNG s | pyramid s | total s | canvas silo peak RSS | canvas silo CPU s | window " +
            "silos' CPU s | window silos' peak RSS | canvas share of CPU |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var size in sizes)
            foreach (var n in windowSilos)
                Once(size, n);
        return 0;
    }

    internal sealed record Silo(Process Process, List<string> Lines);

    private static void Once(int size, int windows)
    {
        var dir = Directory.CreateTempSubdirectory("ut-bigimage-").FullName;
        using var redis = new RedisServer();
        var silos = new List<Silo>();
        try
        {
            var cluster = (Func<object>)(() => new { Provider = "redis", Redis = redis.Endpoint, SiloPort = Ports.Free(), GatewayPort = Ports.Free() });
            var models = new { Name = "terrain", Prior = Path.Combine(Models, "absorbing_ema.th"), VqGan = Path.Combine(Models, "vqgan_ema.th") };
            for (var i = 0; i < windows; i++)
                silos.Add(Start(dir, $"window-{i}", new
                {
                    Roles = new[] { "window" }, Threads = 1, StateDirectory = dir, Models = new[] { models }, Cluster = cluster(),
                    Window = new { Replicas = 1, MaxBatch = 8, MaxWaitMs = 2, SimulatedBatchMs = 2.0 },
                }));
            var port = Ports.Free();
            var canvas = Start(dir, "canvas", new
            {
                Roles = new[] { "canvas", "gateway" }, Threads = 1, StateDirectory = dir, Models = new[] { new { models.Name, models.Prior } }, Cluster = cluster(),
                Canvas = new { MaxJobs = 1, RequestTimeoutSeconds = 600 }, Gateway = new { Port = port },
            });
            silos.Add(canvas);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(5) };
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (!Ready(http) && DateTime.UtcNow < deadline) Thread.Sleep(200);

            var clock = Stopwatch.StartNew();
            var created = http.PostAsJsonAsync("jobs", new { height = size, width = size, steps = 8, tiling = "shifted", seed = 1 }).GetAwaiter().GetResult();
            if (!created.IsSuccessStatusCode) throw new InvalidOperationException(created.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            var id = JsonDocument.Parse(created.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.GetProperty("id").GetString();
            TimeSpan? sampled = null;
            while (true)
            {
                var status = JsonDocument.Parse(http.GetStringAsync($"jobs/{id}").GetAwaiter().GetResult()).RootElement;
                var state = status.GetProperty("state").GetString();
                if (sampled is null && status.GetProperty("step").GetInt32() == status.GetProperty("steps").GetInt32()) sampled = clock.Elapsed;
                if (state is "done" or "failed" or "cancelled")
                {
                    if (state != "done") throw new InvalidOperationException($"job {state}: {status}");
                    break;
                }
                Thread.Sleep(200);
            }
            var total = clock.Elapsed;
            // The silo prints its render's times before it records the job done, but its output arrives here on its own.
            Match? rendered = null;
            for (var wait = Stopwatch.StartNew(); rendered is null && wait.Elapsed < TimeSpan.FromSeconds(30); Thread.Sleep(100))
                lock (canvas.Lines) rendered = canvas.Lines.Select(l => Rendered().Match(l)).FirstOrDefault(m => m.Success);
            if (rendered is null) throw new InvalidOperationException("the canvas silo did not report its render's times");
            var stats = silos.Select(s => Stats(s.Process.Id)).ToList();
            var (canvasStats, windowStats) = (stats[^1], stats[..^1]);
            var cpu = stats.Sum(s => s.cpu);
            Console.WriteLine($"| {size}x{size} | {size * 8}x{size * 8} | {windows} | {sampled!.Value.TotalSeconds:F1} | {rendered.Groups["tiles"].Value} | {rendered.Groups["png"].Value} | " +
                $"{rendered.Groups["pyramid"].Value} | {total.TotalSeconds:F1} | {canvasStats.peak / (1 << 20):N0} MB | {canvasStats.cpu:F1} | " +
                $"{string.Join(" + ", windowStats.Select(w => w.cpu.ToString("F1")))} | {string.Join(", ", windowStats.Select(w => $"{w.peak / (1 << 20):N0} MB"))} | " +
                    $"{100 * canvasStats.cpu / cpu:F0} % |");
        }
        finally
        {
            foreach (var s in silos)
            {
                s.Process.Kill(true);
                s.Process.WaitForExit();
                s.Process.Dispose();
            }
            Directory.Delete(dir, true);
        }
    }

    [GeneratedRegex(@"rendered: \d+ tiles decoded and blended in (?<tiles>[\d.]+) s, PNG written in (?<png>[\d.]+) s, pyramid in (?<pyramid>[\d.]+) s")]
    private static partial Regex Rendered();

    internal static bool Ready(HttpClient http)
    {
        try
        {
            return http.GetAsync("readyz").GetAwaiter().GetResult().IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    internal static Silo Start(string dir, string name, object config)
    {
        var path = Path.Combine(dir, $"{name}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Ut, "silo", "--config", path }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var lines = new List<string>();
        var started = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
            if (e.Data.Contains("silo: started", StringComparison.Ordinal)) started.Set();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"{name}: {e.Data}"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!started.Wait(TimeSpan.FromSeconds(120))) throw new InvalidOperationException($"silo {name} did not start");
        return new Silo(p, lines);
    }

    /// <summary>Peak resident memory (VmHWM) and CPU seconds (user + system) of a live process.</summary>
    private static (long peak, double cpu) Stats(int pid)
    {
        var hwm = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        var peak = long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);    // utime, stime (fields 14 and 15)
        return (peak, ticks / 100.0);
    }
}
