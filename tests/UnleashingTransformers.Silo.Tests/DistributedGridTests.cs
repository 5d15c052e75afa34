using System.Diagnostics;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// The determinism contract across processes, on an Orleans cluster of real `ut silo` processes and a
/// redis-server: a job's image depends on (weights, seed, parameters) only, not on how many window silos
/// served it, which of them died, or which canvas silo ran it.
/// </summary>
public sealed class DistributedGridTests : GridTest
{
    [Fact]
    public async Task TwoWindowSilosAndACanvasSiloGiveTheEmbeddedImage()
    {
        var expected = Embedded("16x32", 7, "--steps", "256", "--temp", "0.6", "--aggregate", "mean");
        using var redis = new RedisServer();
        using var w1 = WindowSilo(redis);
        using var w2 = WindowSilo(redis);
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port);
        await ReadyGateway(port);

        // The README's contract, word for word.
        var stdout = Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x32", "--steps", "256", "--temp", "0.6",
            "--aggregate", "mean", "--seed", "7", "--out", P("grid.png"));
        Assert.Contains("done in 256 steps", stdout);
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));

        // Through an Orleans client instead of HTTP: the same image.
        Ut.Ok(ClientTls(Certificates), "submit", "--cluster", $"redis://{redis.Endpoint}", "--shape", "16x32", "--steps", "256", "--temp", "0.6", "--aggregate", "mean", "--seed", "7", "--out",
            P("client.png"));
        Assert.Equal(expected, File.ReadAllBytes(P("client.png")));
        // The canvas spread its windows over both replicas.
        Assert.True(await Served(w1) > 0, w1.Output);
        Assert.True(await Served(w2) > 0, w2.Output);
    }

    [Theory]
    [InlineData("sundae", "--layers 1-2-1")]
    [InlineData("nat", "--layers 1 --kernel 3")]
    public async Task APriorOfAnotherBackboneServesTheGridAsTheEmbeddedRunDoes(string model, string flags)
    {
        // A few training steps make a prior of the backbone: its weights need not be good, only the same everywhere.
        using (NewDisposeScope()) save(randint(0, 256, new long[] { 32, 64 }, null, int64), P("latents.pt"));
        Ut.Ok(["train-prior", "--model", model, .. flags.Split(' '), "--latents", P("latents.pt"), "--grid", "8x8", "--codebook-size", "256", "--emb", "32",
            "--heads", "2", "--steps", "4", "--checkpoint-every", "4", "--out", P("prior")]);
        var prior = P($"prior/{(model == "sundae" ? "sundae" : "absorbing")}_ema_4.th");
        var expected = Embedded("16x24", 5, "--prior", prior, "--steps", "20", "--temp", "0.9");
        using var redis = new RedisServer();
        using var w1 = WindowSilo(redis, $"Models:0:Prior={prior}");
        using var w2 = WindowSilo(redis, $"Models:0:Prior={prior}");
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port, $"Models:0:Prior={prior}");
        await ReadyGateway(port);
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x24", "--steps", "20", "--temp", "0.9", "--seed", "5", "--out", P("grid.png"));
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));
        Assert.True(await Served(w1) > 0, w1.Output);
        Assert.True(await Served(w2) > 0, w2.Output);
    }

    [Fact]
    public async Task AWindowSiloKilledMidJobLosesNothing()
    {
        var expected = Embedded("32x64", 11, "--steps", "256");   // long enough to kill a silo in the middle
        using var redis = new RedisServer();
        using var w1 = WindowSilo(redis);
        using var w2 = WindowSilo(redis);
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port);
        var http = await ReadyGateway(port);
        var id = await Submit(http, new { height = 32, width = 64, seed = 11, steps = 256 });
        await WaitForStep(http, id, 40);
        Assert.Equal("running", await State(http, id));
        w2.Kill();
        await WaitForState(http, id, "done", 120);
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
        Assert.False(canvas.Exited, canvas.Output);
    }

    [Fact]
    public async Task ACanvasSiloKilledMidJobIsResumedByTheOtherFromItsLastSavedStep()
    {
        var expected = Embedded("32x64", 13, "--steps", "256");
        using var redis = new RedisServer();
        using var window = WindowSilo(redis);
        var (portA, portB) = (Ports.Free(), Ports.Free());
        using var a = CanvasSilo(redis, portA, "Canvas:PersistEvery=8");
        using var b = CanvasSilo(redis, portB, "Canvas:PersistEvery=8");
        var httpA = await ReadyGateway(portA);
        var httpB = await ReadyGateway(portB);
        var id = await Submit(httpA, new { height = 32, width = 64, seed = 13, steps = 256 });
        // Jobs are placed at random over the canvas silos: find the one running it, and kill it.
        var runner = await RunnerOf(id, a, b);
        var (survivor, http) = runner == a ? (b, httpB) : (a, httpA);
        await WaitForStep(http, id, 60);
        runner.Kill();
        var killed = Stopwatch.StartNew();
        // What the surviving gateway says meanwhile: never finished (it was "failed, 0/0" for a second once).
        var seen = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var watching = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                seen.Add(await State(http, id));
                await Task.Delay(50);
            }
        });

        var resumed = survivor.WaitFor($"job {id} resuming at step", 30);
        var after = killed.Elapsed;
        var step = int.Parse(resumed.Split("resuming at step ")[1]);
        Assert.True(step >= 56 && step % 8 == 0, resumed); // its last saved step (PersistEvery 8)
        // Membership declares a killed silo dead in ~1-2 s (tuned); the kick then resumes the job at once.
        Assert.True(after < TimeSpan.FromSeconds(7), $"resumed {after.TotalSeconds:F1} s after the kill");
        await WaitForState(http, id, "done", 120);
        await watching.CancelAsync();
        await watch;
        Assert.DoesNotContain("failed", seen);
        Assert.DoesNotContain("cancelled", seen);
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
    }

    private static async Task<UtProcess> RunnerOf(string id, params UtProcess[] silos)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (silos.FirstOrDefault(s => s.Output.Contains($"job {id} started")) is { } runner) return runner;
            await Task.Delay(20);
        }
        throw new TimeoutException($"no silo started job {id}");
    }
}
