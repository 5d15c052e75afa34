using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// Big images end to end on a cluster of real `ut silo` processes and a redis-server: a 256x256-token canvas
/// (65,536 draws a step, where a one-in-a-million flip would show) equals the embedded run's bytes; its tiles
/// are decoded on the window silos, with Orleans' messages held to 1 MB, through a window silo's kill -9
/// during the decode; and its image is served in ranges.
/// </summary>
public sealed class BigImageGridTests : GridTest
{
    private static readonly string[] Job = ["--shape", "256x256", "--steps", "8", "--tiling", "shifted", "--schedule", "halton", "--temp", "1.0"];

    [Fact]
    public async Task A256x256TokenJobIsDecodedOnTheWindowSilosThroughAKillAndEqualsTheEmbeddedBytes()
    {
        var expected = Embedded("256x256", 17, Job[2..]);
        using var redis = new RedisServer();
        const string small = "Cluster:MaxMessageBytes=1048576";
        using var w1 = WindowSilo(redis, small);
        using var w2 = WindowSilo(redis, small);
        var port = Ports.Free();
        // The canvas silo loads no VQ-GAN: the window silos decode.
        using var canvas = CanvasSilo(redis, port, small, "Models:0:VqGan=");
        var http = await ReadyGateway(port);
        var id = await Submit(http, new { height = 256, width = 256, steps = 8, tiling = "shifted", schedule = "halton", temperature = 1.0, seed = 17 });

        // Both window silos decode tiles; then one of them dies mid-decode.
        var deadline = DateTime.UtcNow.AddSeconds(300);
        while ((await Decoded(w1) == 0 || await Decoded(w2) == 0) && DateTime.UtcNow < deadline && await State(http, id) != "done") await Task.Delay(100);
        Assert.True(await Decoded(w1) > 0 && await Decoded(w2) > 0, $"tiles decoded: {await Decoded(w1)} and {await Decoded(w2)}");
        Assert.Equal("running", await State(http, id));
        w2.Kill();
        await WaitForState(http, id, "done", 300);
        Assert.True(await Decoded(w1) > 60, $"the surviving silo decoded {await Decoded(w1)} tiles"); // most of the 121: the rest after the kill
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
        Assert.True(expected.Length > 4 << 20, $"the image is {expected.Length} bytes: more than the 1 MB message limit several times over");

        // A range: exactly the bytes asked for, with the image's length and version.
        using var range = new HttpRequestMessage(HttpMethod.Get, $"jobs/{id}/image") { Headers = { Range = new RangeHeaderValue(1_000_000, 1_999_999) } };
        var partial = await http.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(expected.Length, partial.Content.Headers.ContentRange!.Length);
        Assert.NotNull(partial.Headers.ETag);
        Assert.Equal(expected[1_000_000..2_000_000], await partial.Content.ReadAsByteArrayAsync());
        var whole = await http.GetAsync($"jobs/{id}/image");
        Assert.Equal(expected.Length, whole.Content.Headers.ContentLength);

        // Through an Orleans client: the same bytes, read a chunk at a time; and as a pyramid.
        Ut.Ok(ClientTls(Certificates), ["submit", "--cluster", $"redis://{redis.Endpoint}", .. Job, "--seed", "17", "--out", P("client.png")]);
        Assert.Equal(expected, File.ReadAllBytes(P("client.png")));
        Assert.False(canvas.Exited, canvas.Output);
    }

    [Fact]
    public async Task SubmitResumesADownloadCutOffMidImage()
    {
        var expected = Embedded("80x72", 3, "--steps", "8");
        var port = Ports.Free();
        // 24 MB for the canvas silo's jobs: this one (about 18 MB at its peak) fits, a 256x256-token one (33 MB) does not.
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port }, Canvas = new { MemoryMb = 24 } }));
        var http = await ReadyGateway(port);
        var refused = await http.PostAsJsonAsync("jobs", new { height = 256, width = 256, seed = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = await refused.Content.ReadAsStringAsync();
        Assert.Contains("Canvas:MemoryMb = 24", error);
        Assert.Contains("shape 256x256", error);
        // Between ut submit and the gateway, a proxy that cuts the first connection once it has carried 300 KB.
        using var proxy = new CuttingProxy(port, 300_000);
        var stdout = Ut.Run("submit", "--gateway", $"http://127.0.0.1:{proxy.Port}", "--shape", "80x72", "--steps", "8", "--seed", "3", "--out", P("grid.png"));
        Assert.True(stdout.code == 0, stdout.stderr);
        Assert.Contains("resuming", stdout.stderr);
        Assert.True(proxy.Cut, "the proxy never cut a connection: the image is smaller than the cut");
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));
        Assert.Empty(Directory.GetFiles(Dir, ".grid*"));

        // A pyramid instead of the PNG: made from the same image.
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "80x72", "--steps", "8", "--seed", "3", "--out", P("grid.dzi"));
        var dzi = File.ReadAllText(P("grid.dzi"));
        Assert.Contains("Height=\"640\"", dzi);
        Assert.Contains("Width=\"576\"", dzi);
        Assert.True(Directory.Exists(P("grid_files")));
    }

    /// <summary>A loopback TCP proxy to a port that closes the first connection carrying more than a given count
    /// of bytes from the server, mid-transfer; later connections pass whole.</summary>
    private sealed class CuttingProxy : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private int _cut;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public bool Cut => Volatile.Read(ref _cut) == 1;

        public CuttingProxy(int target, long cutAfter)
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = Task.Run(async () =>
                    {
                        using (client)
                        using (var server = new TcpClient())
                        {
                            await server.ConnectAsync(IPAddress.Loopback, target);
                            var up = client.GetStream().CopyToAsync(server.GetStream(), _stop.Token);
                            var buffer = new byte[16384];
                            long carried = 0;
                            var down = server.GetStream();
                            try
                            {
                                int n;
                                while ((n = await down.ReadAsync(buffer, _stop.Token)) > 0)
                                {
                                    if (carried + n > cutAfter && Interlocked.CompareExchange(ref _cut, 1, 0) == 0) return;   // closes both
                                    await client.GetStream().WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                                    carried += n;
                                }
                            }
                            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
                            _ = up;
                        }
                    });
                }
            });
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
