using System.Net.Http.Json;
using System.Text.Json;
using UnleashingTransformers.Cli.Tests;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// The determinism contract across processes: a job's image depends on (weights, seed, parameters) only,
/// not on how many window silos served it, which of them died, or whether its canvas silo was restarted.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class DistributedGridTests(RabbitMqBroker broker) : GridTest
{
    private string WindowConfig() => Config("window.json", new { Roles = new[] { "window" }, Broker = new { Uri = broker.Uri } });

    private string CanvasConfig(int port, int persistEvery = 16) => Config("canvas.json", new
    {
        Roles = new[] { "canvas", "gateway" },
        Broker = new { Uri = broker.Uri },
        Gateway = new { Port = port },
        Canvas = new { PersistEvery = persistEvery },
    });

    private static int Served(UtProcess silo)
    {
        silo.Terminate();
        Assert.Equal(0, silo.WaitForExit(30));
        var line = silo.WaitFor("window role drained:");
        return int.Parse(line.Split("drained: ")[1].Split(' ')[0]);
    }

    [Fact]
    public void Two_window_silos_and_a_canvas_silo_give_the_embedded_image()
    {
        var expected = Embedded("16x32", 7);
        using var w1 = WindowSilo(WindowConfig());
        using var w2 = WindowSilo(WindowConfig());
        var port = RabbitMqBroker.FreePort();
        using var canvas = UtProcess.Silo(CanvasConfig(port));
        canvas.WaitFor("silo: started");

        var stdout = Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x32", "--seed", "7", "--out", P("grid.png"));
        Assert.Contains("done in 256 steps", stdout);
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));
        // Competing consumers: both replicas took part.
        Assert.True(Served(w1) > 0, w1.Output);
        Assert.True(Served(w2) > 0, w2.Output);
    }

    [Fact]
    public void A_window_silo_killed_mid_job_loses_nothing()
    {
        var expected = Embedded("32x64", 11);
        using var w1 = WindowSilo(WindowConfig());
        using var w2 = WindowSilo(WindowConfig());
        using var generate = new UtProcess(null, "generate", "--shape", "32x64", "--seed", "11", "--out", P("grid.png"), "--grid", broker.Uri);
        Thread.Sleep(3000);
        Assert.False(generate.Exited, "the job ended before the kill: make it longer");
        w2.Kill();
        Assert.Equal(0, generate.WaitForExit(120));
        Assert.Contains("replicas on", generate.Output);
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));
    }

    [Fact]
    public async Task A_canvas_silo_killed_mid_job_resumes_it_after_restart()
    {
        var expected = Embedded("32x64", 13);
        using var w1 = WindowSilo(WindowConfig());
        var port = RabbitMqBroker.FreePort();
        var config = CanvasConfig(port, persistEvery: 8);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        string id;
        using (var canvas = UtProcess.Silo(config))
        {
            canvas.WaitFor("silo: started");
            var created = await http.PostAsJsonAsync("jobs", new { height = 32, width = 64, seed = 13 });
            Assert.Equal(System.Net.HttpStatusCode.Accepted, created.StatusCode);
            id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await Step(http, id) < 64 && DateTime.UtcNow < deadline) await Task.Delay(50);
            canvas.Kill();
        }
        var saved = JsonDocument.Parse(File.ReadAllText(P($"state/jobs/{id}/canvas.json"))).RootElement.GetProperty("step").GetInt32();
        Assert.InRange(saved, 8, 255);
        Assert.False(File.Exists(P($"state/jobs/{id}/image.png")));

        using var restarted = UtProcess.Silo(config);
        var resumed = restarted.WaitFor($"job {id} resuming at step");
        Assert.EndsWith($"step {saved}", resumed);
        var end = DateTime.UtcNow.AddSeconds(90);
        while (await State(http, id) != "done" && DateTime.UtcNow < end) await Task.Delay(100);
        Assert.Equal("done", await State(http, id));
        Assert.Equal(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
    }

    internal static async Task<JsonElement> Status(HttpClient http, string id) => JsonDocument.Parse(await http.GetStringAsync($"jobs/{id}")).RootElement;
    private static async Task<int> Step(HttpClient http, string id) => (await Status(http, id)).GetProperty("step").GetInt32();
    internal static async Task<string> State(HttpClient http, string id) => (await Status(http, id)).GetProperty("state").GetString()!;
}

/// <summary>The broker itself dies mid-job and comes back: clients reconnect, lost requests are sent
/// again, and the job still gives the embedded image.</summary>
public sealed class BrokerRestartTests : GridTest
{
    [Fact]
    public void A_job_survives_a_broker_restart()
    {
        var expected = Embedded("32x64", 17);
        using var broker = new RabbitMqBroker();
        using var window = WindowSilo(Config("window.json", new { Roles = new[] { "window" }, Broker = new { Uri = broker.Uri } }));
        using var generate = new UtProcess(null, "generate", "--shape", "32x64", "--seed", "17", "--out", P("grid.png"), "--grid", broker.Uri, "--request-timeout", "5");
        Thread.Sleep(3000);
        Assert.False(generate.Exited, "the job ended before the broker died: make it longer");
        broker.Kill();
        Thread.Sleep(1000);
        broker.Restart();
        Assert.True(generate.WaitForExit(120) == 0, generate.Output);
        Assert.Equal(expected, File.ReadAllBytes(P("grid.png")));
        Assert.False(window.Exited, window.Output);
    }
}

/// <summary>A broker behind TLS with a private CA: trusted through Broker:TlsCaFile, refused clearly without it.</summary>
public sealed class BrokerTlsTests : GridTest
{
    [Fact]
    public void Window_silos_and_clients_reach_a_TLS_broker_with_its_CA()
    {
        var expected = Embedded("16x32", 23);
        using var broker = RabbitMqBroker.WithTls();
        using var window = WindowSilo(Config("window.json", new { Roles = new[] { "window" }, Broker = new { Uri = broker.TlsUri, TlsCaFile = broker.CaFile } }));
        using var generate = new UtProcess(new Dictionary<string, string> { ["UT__Broker__TlsCaFile"] = broker.CaFile },
            "generate", "--shape", "16x32", "--seed", "23", "--out", P("tls.png"), "--grid", broker.TlsUri);
        Assert.True(generate.WaitForExit(120) == 0, generate.Output);
        Assert.Equal(expected, File.ReadAllBytes(P("tls.png")));

        Assert.Contains("TLS handshake failed", Ut.Fails("generate", "--shape", "16x32", "--out", P("x.png"), "--grid", broker.TlsUri));
        Assert.False(File.Exists(P("x.png")));
    }
}
