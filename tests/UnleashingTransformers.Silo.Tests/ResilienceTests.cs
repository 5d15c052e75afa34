using System.Net;
using System.Runtime.InteropServices;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// Jobs through storage outages, on real processes: a redis-server stopped for 20 s under a running job, and a
/// state volume (a small tmpfs) filled up under one. Neither is reported finished meanwhile, both finish with
/// the embedded run's bytes.
/// </summary>
public sealed class ResilienceTests : GridTest
{
    [Fact]
    public async Task AJobRidesOutA20SecondRedisOutageAndGivesTheSameBytes()
    {
        var expected = Embedded("32x64", 21, "--steps", "256");   // long enough to outlast an outage
        using var redis = new RedisServer(persistDir: P("redis"));
        using var window = WindowSilo(redis);
        var (port, ops) = (Ports.Free(), Ports.Free());
        using var canvas = CanvasSilo(redis, port, "Canvas:PersistEvery=4", $"Ops:Port={ops}");
        var http = await ReadyGateway(port);
        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ops}"), Timeout = TimeSpan.FromSeconds(5) };
        var id = await Submit(http, new { height = 32, width = 64, seed = 21, steps = 256 });
        await WaitForStep(http, id, 24);

        redis.Stop();
        var outage = DateTime.UtcNow;
        // The canvas silo says it is not ready while its storage is gone; the job is never reported finished.
        var notReady = false;
        while (DateTime.UtcNow - outage < TimeSpan.FromSeconds(20))
        {
            notReady |= (await probe.GetAsync("readyz")).StatusCode == HttpStatusCode.ServiceUnavailable;
            var state = await State(http, id);
            Assert.True(state is "running" or "queued" or "resuming", $"job {id} is {state} during the outage");
            await Task.Delay(500);
        }
        Assert.True(notReady, "/readyz said ready throughout a redis outage");
        redis.Start();

        await WaitForState(http, id, "done", 180);
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
        Assert.Contains("storage:", canvas.Output);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("readyz")).StatusCode);
    }

    [Fact]
    public void ACanvasSiloThatStartsRemovesWhatRendersCutShortLeftBehind()
    {
        var images = P("state/images");
        Directory.CreateDirectory(images);
        string Make(string name, TimeSpan age)
        {
            var path = Path.Combine(images, name);
            File.WriteAllText(path, "x");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }
        // A killed render's raw pixels and half-written PNG; a render going on now (another silo's); a done image.
        var stale = new[] { Make(".0123abcd.png.4242.0f0f.raw", TimeSpan.FromHours(1)), Make(".0123abcd.4242.0f0f.tmp.png", TimeSpan.FromHours(1)) };
        var live = Make(".4567cdef.png.77.1e1e.raw", TimeSpan.Zero);
        var done = Make("89abcdef.png", TimeSpan.FromDays(1));
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = Ports.Free() } }));
        silo.WaitFor("silo: started");
        Assert.All(stale, f => Assert.False(File.Exists(f), $"{f} is left"));
        Assert.True(File.Exists(live) && File.Exists(done));
        Assert.Contains("removed 2 leftover file(s)", silo.Output);
    }

    [RootFact]
    public async Task AJobRidesOutAFullStateVolumeAndGivesTheSameBytes()
    {
        var expected = Embedded("32x64", 23, "--steps", "256");
        var state = P("state");
        Directory.CreateDirectory(state);
        Assert.True(Mount.Tmpfs(state, 64) == 0, $"mount -t tmpfs {state} failed");
        try
        {
            var port = Ports.Free();
            using (var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port }, Canvas = new { PersistEvery = 4 } })))
            {
                var http = await ReadyGateway(port);
                var id = await Submit(http, new { height = 32, width = 64, seed = 23, steps = 256 });
                await WaitForStep(http, id, 24);
                // The volume full: every state save fails (ENOSPC) while this file is there.
                var filler = Path.Combine(state, "filler");
                await using (var fill = new FileStream(filler, FileMode.Create))
                {
                    var block = new byte[1 << 16];
                    try
                    {
                        while (true) fill.Write(block);
                    }
                    catch (IOException)
                    {
                        // full
                    }
                }
                var step = await Step(http, id);
                for (var i = 0; i < 16; i++)
                {
                    var s = await State(http, id);
                    Assert.True(s is "running" or "resuming", $"job {id} is {s} on a full volume");
                    await Task.Delay(500);
                }
                Assert.InRange(await Step(http, id), step, step + 4);   // it waits for its save, it does not run ahead
                File.Delete(filler);
                await WaitForState(http, id, "done", 120);
                SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
                Assert.Contains("storage:", silo.Output);
            }
        }
        finally
        {
            _ = Mount.Unmount(state);
        }
    }
}

/// <summary>A fact that mounts file systems: skipped, saying why, when the tests do not run as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Mount.Root) Skip = "mounting a small tmpfs needs root (CI and bootstrap.sh machines run as root)";
    }
}

internal static class Mount
{
    public static bool Root => geteuid() == 0;

    public static int Tmpfs(string path, int megabytes) => mount("tmpfs", path, "tmpfs", 0, $"size={megabytes}m");

    public static int Unmount(string path) => umount2(path, 2);   // MNT_DETACH

    [DllImport("libc", SetLastError = true)]
    private static extern int mount(string source, string target, string type, ulong flags, string data);

    [DllImport("libc", SetLastError = true)]
    private static extern int umount2(string target, int flags);

    [DllImport("libc")]
    private static extern uint geteuid();
}
