using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The HTTP API of an embedded silo (every role in one process, as the repository's silo.json).</summary>
public sealed class GatewayTests : GridTest
{
    [Fact]
    public async Task Jobs_are_submitted_followed_fetched_and_cancelled()
    {
        var expected = Embedded("16x32", 21, "--temp", "0.6");
        var port = RabbitMqBroker.FreePort();
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port, MaxTokens = 4096 } }));
        silo.WaitFor("silo: started");
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.Equal("ok", await http.GetStringAsync("healthz"));
        Assert.Equal("ready", await http.GetStringAsync("readyz"));

        // Bad input: 400 with a message that names the field.
        async Task<string> BadRequest(string body)
        {
            var r = await http.PostAsync("jobs", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        }
        Assert.Contains("limit of 4096", await BadRequest("""{"height":128,"width":128}"""));
        Assert.Contains("aggregate 'median'", await BadRequest("""{"height":16,"width":16,"aggregate":"median"}"""));
        Assert.Contains("smaller than the 8x8 window", await BadRequest("""{"height":4,"width":16}"""));
        Assert.Contains("temperature", await BadRequest("""{"height":16,"width":16,"temperature":0}"""));
        Assert.Contains("colour", await BadRequest("""{"height":16,"width":16,"colour":"red"}"""));
        Assert.Contains("not a job", await BadRequest("""{"height":"""));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("jobs/0123456789abcdef")).StatusCode);

        // A job: accepted, followed to the end, its image the embedded run's.
        var created = await http.PostAsJsonAsync("jobs", new { height = 16, width = 32, seed = 21, temperature = 0.6 });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        Assert.Equal($"/jobs/{id}", created.Headers.Location?.ToString());
        var seen = new HashSet<int>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await DistributedGridTests.State(http, id) != "done" && DateTime.UtcNow < deadline)
        {
            seen.Add((await DistributedGridTests.Status(http, id)).GetProperty("step").GetInt32());
            await Task.Delay(20);
        }
        Assert.Equal(256, (await DistributedGridTests.Status(http, id)).GetProperty("step").GetInt32());
        Assert.Contains(seen, s => s is > 0 and < 256); // progress was visible on the way
        Assert.Equal(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
        Assert.Equal(HttpStatusCode.Conflict, (await http.DeleteAsync($"jobs/{id}")).StatusCode);

        // A long job: no image while it runs; cancelled, it stops and never gets one.
        var big = await http.PostAsJsonAsync("jobs", new { height = 64, width = 64, seed = 1 });
        var bigId = JsonDocument.Parse(await big.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        while (await DistributedGridTests.State(http, bigId) != "running") await Task.Delay(20);
        var early = await http.GetAsync($"jobs/{bigId}/image");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains("is running", await early.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"jobs/{bigId}")).StatusCode);
        var end = DateTime.UtcNow.AddSeconds(30);
        while (await DistributedGridTests.State(http, bigId) != "cancelled" && DateTime.UtcNow < end) await Task.Delay(50);
        var cancelled = await DistributedGridTests.Status(http, bigId);
        Assert.Equal("cancelled", cancelled.GetProperty("state").GetString());
        Assert.True(cancelled.GetProperty("step").GetInt32() < 256);
        Assert.False(File.Exists(P($"state/jobs/{bigId}/image.png")));

        silo.Terminate();
        Assert.Equal(0, silo.WaitForExit(30));
        Assert.Contains("silo: stopped", silo.Output);
    }

    [Fact]
    public async Task A_gateway_silo_and_a_canvas_silo_share_jobs_through_the_state_directory()
    {
        var expected = Embedded("16x16", 4);
        var port = RabbitMqBroker.FreePort();
        using var gateway = UtProcess.Silo(Config("gateway.json", new { Roles = new[] { "gateway" }, Gateway = new { Port = port } }));
        gateway.WaitFor("silo: started");
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var created = await http.PostAsJsonAsync("jobs", new { height = 16, width = 16, seed = 4 });
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await Task.Delay(500);
        Assert.Equal("queued", await DistributedGridTests.State(http, id)); // nobody runs jobs yet

        using var canvas = UtProcess.Silo(Config("canvas.json", new { Roles = new[] { "window", "canvas" } }));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await DistributedGridTests.State(http, id) != "done" && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
    }

    [Fact]
    public async Task SIGTERM_saves_a_running_job_where_it_is_and_a_restart_finishes_it()
    {
        var expected = Embedded("32x64", 13);
        var port = RabbitMqBroker.FreePort();
        // PersistEvery far beyond the job: only the drain itself can have saved the canvas.
        var config = Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port }, Canvas = new { PersistEvery = 100000 } });
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        string id;
        using (var silo = UtProcess.Silo(config))
        {
            silo.WaitFor("silo: started");
            var created = await http.PostAsJsonAsync("jobs", new { height = 32, width = 64, seed = 13 });
            id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await DistributedGridTests.Status(http, id)).GetProperty("step").GetInt32() < 40 && DateTime.UtcNow < deadline) await Task.Delay(50);
            silo.Terminate();
            Assert.Equal(0, silo.WaitForExit(30));
        }
        var status = JsonDocument.Parse(File.ReadAllText(P($"state/jobs/{id}/status.json"))).RootElement;
        var saved = JsonDocument.Parse(File.ReadAllText(P($"state/jobs/{id}/canvas.json"))).RootElement.GetProperty("step").GetInt32();
        Assert.Equal("queued", status.GetProperty("state").GetString());
        Assert.Equal(status.GetProperty("step").GetInt32(), saved);
        Assert.InRange(saved, 40, 255);

        using var restarted = UtProcess.Silo(config);
        Assert.EndsWith($"resuming at step {saved}", restarted.WaitFor($"job {id} resuming at step"));
        var end = DateTime.UtcNow.AddSeconds(60);
        while (await DistributedGridTests.State(http, id) != "done" && DateTime.UtcNow < end) await Task.Delay(100);
        Assert.Equal(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
    }

    [Fact]
    public async Task Ctrl_C_on_ut_submit_cancels_its_job()
    {
        var port = RabbitMqBroker.FreePort();
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port } }));
        silo.WaitFor("silo: started");
        using var submit = new UtProcess(null, "submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "64x64", "--out", P("x.png"));
        var id = submit.WaitFor("accepted by").Split(' ')[2];
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await DistributedGridTests.State(http, id) != "running" && DateTime.UtcNow < deadline) await Task.Delay(50);
        submit.Interrupt();
        Assert.Equal(130, submit.WaitForExit(30));
        Assert.Contains($"job {id} cancelled", submit.Output);
        var end = DateTime.UtcNow.AddSeconds(30);
        while (await DistributedGridTests.State(http, id) != "cancelled" && DateTime.UtcNow < end) await Task.Delay(50);
        Assert.Equal("cancelled", await DistributedGridTests.State(http, id));
        Assert.False(File.Exists(P("x.png")));
    }
}
