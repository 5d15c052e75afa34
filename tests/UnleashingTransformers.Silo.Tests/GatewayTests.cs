using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The HTTP API of an embedded silo (every role in one process, as the repository's silo.json).</summary>
public sealed class GatewayTests : GridTest
{
    private string Embedded(int port, object? canvas = null, object? gateway = null) => Config("silo.json", new
    {
        Roles = new[] { "window", "canvas", "gateway" },
        Gateway = gateway ?? new { Port = port },
        Canvas = canvas ?? new { MaxTokens = 4096 },
    });

    [Fact]
    public async Task JobsAreSubmittedFollowedListedFetchedAndCancelled()
    {
        var expected = Embedded("16x32", 21, "--temp", "0.6");
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port));
        var http = await ReadyGateway(port);
        Assert.Equal("ok", await http.GetStringAsync("healthz"));

        // Bad input: 400 with a message that names the field; the silo is not disturbed by any of it.
        async Task<string> BadRequest(string body)
        {
            var r = await http.PostAsync("jobs", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        }
        Assert.Contains("limit of 4096", await BadRequest("""{"height":128,"width":128}"""));
        Assert.Contains("aggregate 'median'", await BadRequest("""{"height":16,"width":16,"aggregate":"median"}"""));
        Assert.Contains("smaller than the 8x8 window", await BadRequest("""{"height":4,"width":16}"""));
        Assert.Contains("temperature must be > 0", await BadRequest("""{"height":16,"width":16,"temperature":0}"""));
        // the models' settings by the spec's field names, not ut's flags
        Assert.Contains("topK must be >= 0", await BadRequest("""{"height":16,"width":16,"topK":-1}"""));
        Assert.Contains("proportion START[:END] must lie in (0, 1]", await BadRequest("""{"height":16,"width":16,"proportion":2}"""));
        Assert.Contains("window -8x-8", await BadRequest("""{"windowHeight":-8,"windowWidth":-8}"""));
        Assert.Contains("limit of 1024", await BadRequest("""{"height":16,"width":16,"steps":100000}"""));
        Assert.Contains("colour", await BadRequest("""{"height":16,"width":16,"colour":"red"}"""));
        Assert.Contains("not a job", await BadRequest("""{"height":"""));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("jobs/0123456789abcdef")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("jobs/..%2F..%2Fetc")).StatusCode);

        // A job: accepted, followed to the end (the spec's default steps), its image the embedded run's.
        var created = await http.PostAsJsonAsync("jobs", new { height = 16, width = 32, seed = 21, temperature = 0.6 });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        Assert.Equal($"/jobs/{id}", created.Headers.Location?.ToString());
        await WaitForState(http, id, "done", 60);
        Assert.Equal(new CanvasJobSpec().Steps, await Step(http, id));
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));
        Assert.Equal(HttpStatusCode.Conflict, (await http.DeleteAsync($"jobs/{id}")).StatusCode);

        // A long job: its progress visible on the way, no image while it runs; cancelled, it stops and never gets one.
        // (Progress is watched here, not on the small job above, which a fast machine finishes between two polls.)
        var bigId = await Submit(http, new { height = 64, width = 64, seed = 1, steps = 256 });
        await WaitForState(http, bigId, "running", 30);
        await WaitForStep(http, bigId, 1, 30);
        Assert.InRange(await Step(http, bigId), 1, 255);
        var early = await http.GetAsync($"jobs/{bigId}/image");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains("is running", await early.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"jobs/{bigId}")).StatusCode);
        await WaitForState(http, bigId, "cancelled", 30);
        Assert.True(await Step(http, bigId) < 256);
        Assert.False(File.Exists(P($"state/images/{bigId}.png")));

        // The list, newest first, paged.
        var list = JsonDocument.Parse(await http.GetStringAsync("jobs?limit=1")).RootElement;
        Assert.Equal(2, list.GetProperty("total").GetInt32());
        Assert.Equal(bigId, list.GetProperty("jobs")[0].GetProperty("id").GetString());
        var second = JsonDocument.Parse(await http.GetStringAsync("jobs?offset=1&limit=5")).RootElement.GetProperty("jobs");
        Assert.Equal(id, Assert.Single(second.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("dashboard/")).StatusCode);

        silo.Terminate();
        Assert.Equal(0, silo.WaitForExit(30));
        Assert.Contains("silo: stopped", silo.Output);
    }

    [Fact]
    public async Task TheApiTakesOneUnambiguousJsonBodyRefusesCrossSiteWritesAndSendsSecurityHeaders()
    {
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port));
        var http = await ReadyGateway(port);
        async Task<(HttpStatusCode code, string error)> Post(string body, string type = "application/json", Action<HttpRequestMessage>? edit = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "jobs") { Content = new StringContent(body, Encoding.UTF8, type) };
            edit?.Invoke(request);
            var r = await http.SendAsync(request);
            var text = await r.Content.ReadAsStringAsync();
            return (r.StatusCode, r.Content.Headers.ContentType?.MediaType == "application/json" ? JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()! : text);
        }
        const string job = """{"height":8,"width":8,"steps":4,"seed":1}""";
        // What a cross-site form can send (text/plain) is no job; nor is a body whose keys repeat or change case.
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Post(job, "text/plain")).code);
        var twice = await Post("""{"height":8,"width":8,"seed":1,"seed":2}""");
        Assert.Equal(HttpStatusCode.BadRequest, twice.code);
        Assert.Contains("duplicate", twice.error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("""{"height":8,"Height":16,"width":8}""")).code);
        // A browser's write from another site (its Origin or Sec-Fetch-Site) is refused; the page's own goes through.
        Assert.Equal(HttpStatusCode.Forbidden, (await Post(job, edit: r => r.Headers.Add("Origin", "http://evil.example"))).code);
        Assert.Equal(HttpStatusCode.Forbidden, (await Post(job, edit: r => r.Headers.Add("Sec-Fetch-Site", "cross-site"))).code);
        Assert.Equal(HttpStatusCode.Accepted, (await Post(job, edit: r => r.Headers.Add("Origin", $"http://127.0.0.1:{port}"))).code);
        // A loopback gateway answers for loopback names only (a rebound DNS name is another site).
        using (var rebound = new HttpRequestMessage(HttpMethod.Get, "jobs"))
        {
            rebound.Headers.Host = "evil.example";
            Assert.Equal(HttpStatusCode.MisdirectedRequest, (await http.SendAsync(rebound)).StatusCode);
        }
        Assert.Equal(1, JsonDocument.Parse(await http.GetStringAsync("jobs")).RootElement.GetProperty("total").GetInt32());
        // Priorities: a word the API knows, and interactive only for small canvases.
        Assert.Contains("expected interactive or batch", (await Post("""{"height":8,"width":8,"priority":"urgent"}""")).error);
        Assert.Contains("at most 4096 tokens", (await Post("""{"height":64,"width":65,"priority":"interactive"}""")).error);

        // The page: no inline script may run, it may not be framed, types are not sniffed.
        var page = await http.GetAsync("/");
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        var script = policy.Split(';').Select(d => d.Trim()).Single(d => d.StartsWith("script-src", StringComparison.Ordinal));
        Assert.Equal("script-src 'self'", script);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.DoesNotContain("<script>", await page.Content.ReadAsStringAsync());
        // An error that reaches a client is one line without paths.
        var bad = await Post("""{"height":8,"width":8,"steps":-1}""");
        Assert.Equal(HttpStatusCode.BadRequest, bad.code);
        Assert.DoesNotContain("\n", bad.error);
        Assert.DoesNotContain(" at ", bad.error);
    }

    [Fact]
    public async Task AnEditRegeneratesARegionOfADoneJobAsUtInpaintDoesAndKeepsTheRest()
    {
        // The source job with MaskGIT's schedule and a temperature ramp: the grid job's image is the embedded run's.
        string[] sampling = ["--steps", "12", "--schedule", "confidence", "--temp", "0.8:0.5", "--top-k", "32"];
        var expected = Embedded("16x24", 21, [.. sampling, "--tokens-out", P("source.json")]);
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port));
        var http = await ReadyGateway(port);
        var id = await Submit(http, new { height = 16, width = 24, seed = 21, steps = 12, schedule = "confidence", temperature = 0.8, temperatureEnd = 0.5, topK = 32 });
        async Task<HttpResponseMessage> Edit(string job, string body) =>
            await http.PostAsync($"jobs/{job}/edit", new StringContent(body, Encoding.UTF8, "application/json"));
        async Task<string> Refused(string job, string body, HttpStatusCode code)
        {
            var r = await Edit(job, body);
            Assert.Equal(code, r.StatusCode);
            return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        }
        await WaitForState(http, id, "done", 60);
        SameImage(expected, await http.GetByteArrayAsync($"jobs/{id}/image"));

        // The edit: region 4:12,8:20 at a new seed; what is not given (schedule, temperature, ...) is the source's.
        var created = await Edit(id, """{"region":"4:12,8:20","seed":5}""");
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var editId = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await WaitForState(http, editId, "done", 60);
        var edited = await http.GetByteArrayAsync($"jobs/{editId}/image");
        Assert.NotEqual(expected, edited);
        // ut inpaint on the source's tokens with the same flags gives the same tokens, hence the same pixels; the
        // images' parameters differ only in what they started from (the job here, the token file there).
        Ut.Ok(["inpaint", "--tokens", P("source.json"), "--region", "4:12,8:20", "--seed", "5", "--vqgan", VqGan, "--out", P("inpaint.png"),
            "--tokens-out", P("inpaint.json"), .. sampling]);
        File.WriteAllBytes(P("edited.png"), edited);
        Assert.True(Imaging.Images.LoadRgb(P("edited.png")).equal(Imaging.Images.LoadRgb(P("inpaint.png"))), "the edit's pixels are ut inpaint's");
        var made = JsonDocument.Parse(Ut.Ok("info", "--image", P("edited.png"))).RootElement.GetProperty("job");
        Assert.Equal((id, "4:12,8:20", 5UL), (made.GetProperty("source").GetString(), made.GetProperty("region").GetString(), made.GetProperty("seed").GetUInt64()));
        var before = Tokens(P("source.json"));
        var after = Tokens(P("inpaint.json"));
        for (var i = 0; i < before.Length; i++)
        {
            var (r, c) = (i / 24, i % 24);
            var inside = r is >= 4 and < 12 && c is >= 8 and < 20;
            if (!inside) Assert.Equal(before[i], after[i]);
        }
        Assert.True(Enumerable.Range(0, before.Length).Count(i => before[i] != after[i]) > 48, "the region was regenerated");

        // Edits of edits chain; bad edits are named.
        Assert.Equal(HttpStatusCode.Accepted, (await Edit(editId, """{"region":"0:8,0:8","seed":6,"schedule":"halton"}""")).StatusCode);
        Assert.Contains("region", await Refused(id, """{"region":"4:40,0:8"}""", HttpStatusCode.BadRequest));
        Assert.Contains("R0:R1,C0:C1", await Refused(id, """{"region":"top-left"}""", HttpStatusCode.BadRequest));
        Assert.Contains("send the region", await Refused(id, """{"seed":3}""", HttpStatusCode.BadRequest));
        Assert.Contains("keeps the source's shape", await Refused(id, """{"region":"0:4,0:4","height":32}""", HttpStatusCode.BadRequest));
        Assert.Contains("schedule 'best'", await Refused(id, """{"region":"0:4,0:4","schedule":"best"}""", HttpStatusCode.BadRequest));
        Assert.Contains("no job", await Refused("0123456789abcdef", """{"region":"0:4,0:4"}""", HttpStatusCode.NotFound));
        // A key twice, or in another case, means nothing for sure: refused, with a body saying so (it was a 500).
        Assert.Contains("duplicate", await Refused(id, """{"region":"0:4,0:4","seed":1,"seed":2}""", HttpStatusCode.BadRequest), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Seed", await Refused(id, """{"region":"0:4,0:4","Seed":1}""", HttpStatusCode.BadRequest));
        var running = await Submit(http, new { height = 64, width = 64, seed = 1, steps = 256 });
        await WaitForState(http, running, "running", 30);
        Assert.Contains("only a done job", await Refused(running, """{"region":"0:4,0:4"}""", HttpStatusCode.Conflict));
        await http.DeleteAsync($"jobs/{running}");
    }

    [Fact]
    public async Task ProgressStreamsAsEventsThePreviewFillsInAndADoneJobHasADeepzoomPyramid()
    {
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port));
        var http = await ReadyGateway(port);
        // 128 steps: long enough (about 2 s here) that the 200 ms event poll sees several; at 24 an idle machine
        // finished the job between two polls.
        var id = await Submit(http, new { height = 16, width = 24, seed = 3, steps = 128 });
        var early = await http.GetByteArrayAsync($"jobs/{id}/preview.png");

        // The event stream: a status event per change, steps never going back, the last one "done".
        using var response = await http.GetAsync($"jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<JsonElement>();
        string? line, previous = null;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            (var before, previous) = (previous, line);
            if (!line.StartsWith("data: ")) continue;
            Assert.Equal("event: status", before);                            // each event: its name, its data, a blank line
            var status = JsonDocument.Parse(line["data: ".Length..]).RootElement;
            events.Add(status);
            if (status.GetProperty("state").GetString() == "done") break;
        }
        var steps = events.Select(e => e.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(steps.Order(), steps);
        Assert.True(events.Count >= 3, $"{events.Count} events");
        Assert.Equal(128, steps[^1]);
        Assert.Equal(384, events[^1].GetProperty("revealed").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("jobs/0123456789abcdef/events")).StatusCode);

        // The preview: one pixel a token, masked grey before, every token its code's colour once done.
        File.WriteAllBytes(P("early.png"), early);
        File.WriteAllBytes(P("late.png"), await http.GetByteArrayAsync($"jobs/{id}/preview.png"));
        File.WriteAllBytes(P("done.png"), await http.GetByteArrayAsync($"jobs/{id}/image"));
        using (Torch.torch.NewDisposeScope())
        {
            var before = Imaging.Images.LoadRgb(P("early.png"));
            var after = Imaging.Images.LoadRgb(P("late.png"));
            Assert.Equal(new long[] { 3, 16, 24 }, after.shape);
            var grey = before.eq(128).sum(new long[] { 0 }).eq(3);     // pixels that are (128, 128, 128): masked
            Assert.True(grey.sum().item<long>() > 300, "the preview of a job just started is mostly grey");
            Assert.False(before.equal(after));
            // The colours are the palette's: the image of a done canvas, averaged over each token's 8x8 block, is close.
            var image = Imaging.Images.LoadRgb(P("done.png"));
            var blocks = Torch.torch.nn.functional.avg_pool2d(image.to(Torch.ScalarType.Float32).unsqueeze(0), new long[] { 8, 8 }).squeeze(0);
            Assert.True((blocks - after.to(Torch.ScalarType.Float32)).abs().mean().item<double>() < 40, "the preview looks like the image");
        }

        // The DeepZoom pyramid: a .dzi naming the image's size, tiles at every level down to 1x1.
        var dzi = await http.GetStringAsync($"jobs/{id}/image.dzi");
        Assert.Contains("Width=\"192\"", dzi);
        Assert.Contains("Height=\"128\"", dzi);
        var levels = (int)Math.Ceiling(Math.Log2(192)) + 1;                        // 0 (1x1) to 8 (full size)
        var top = await http.GetAsync($"jobs/{id}/image_files/{levels - 1}/0_0.jpeg");
        Assert.Equal(HttpStatusCode.OK, top.StatusCode);
        Assert.Equal("image/jpeg", top.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"jobs/{id}/image_files/0/0_0.jpeg")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"jobs/{id}/image_files/{levels}/0_0.jpeg")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"jobs/{id}/image_files/1/..%2F..%2Fimages.jpeg")).StatusCode);
    }

    private static long[] Tokens(string file) =>
        JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt64()).ToArray();

    [Fact]
    public async Task OffLoopbackTheAPIAndDashboardRequireTheToken()
    {
        var port = Ports.Free();
        Assert.Contains("set Gateway:Token", Ut.Fails("silo", "--config", Embedded(port, gateway: new { Host = "0.0.0.0", Port = port })));
        using var silo = UtProcess.Silo(Embedded(port, gateway: new { Host = "0.0.0.0", Port = port }), "Gateway:Token=s3cret");
        var http = await ReadyGateway(port); // the probes stay open
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("jobs", new { height = 16, width = 16 })).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("jobs")).StatusCode);
        // The web page's own files hold no data and load without it; what they ask for needs the token, which a
        // browser also sends as the cookie ut_token (for images, tiles and the event stream).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("lib/openseadragon/openseadragon.min.js")).StatusCode);
        async Task<HttpStatusCode> WithCookie(string value)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "jobs/0123456789abcdef/preview.png");
            request.Headers.Add("Cookie", $"ut_token={value}");
            return (await new HttpClient { BaseAddress = http.BaseAddress }.SendAsync(request)).StatusCode;
        }
        Assert.Equal(HttpStatusCode.Unauthorized, await WithCookie("wrong"));
        Assert.Equal(HttpStatusCode.NotFound, await WithCookie("s3cret"));       // past the door: no such job
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("dashboard/")).StatusCode);

        // ut submit takes the token from the environment, as silo settings are given.
        using var submit = new UtProcess(new Dictionary<string, string> { ["UT__Gateway__Token"] = "s3cret" },
            "submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "8x8", "--steps", "8", "--out", P("x.png"));
        Assert.Equal(0, submit.WaitForExit(60));
        Assert.True(File.Exists(P("x.png")));
        Assert.Contains("requires Authorization: Bearer", Ut.Fails("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "8x8", "--out", P("y.png")));
        Assert.False(File.Exists(P("y.png")));
    }

    [Fact]
    public async Task AFullQueueAnswers429AndFinishedJobsAreKeptOnlyAsConfigured()
    {
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port, canvas: new { MaxPending = 1, KeepFinished = 1 }));
        var http = await ReadyGateway(port);
        // The first job long enough to be unfinished at the second POST (8x8 at 16 steps was done before it in CI).
        var first = await Submit(http, new { height = 32, width = 64, steps = 256, seed = 1 });
        var full = await http.PostAsJsonAsync("jobs", new { height = 8, width = 8, steps = 16, seed = 2 });
        Assert.Equal((HttpStatusCode)429, full.StatusCode);
        Assert.NotNull(full.Headers.RetryAfter);
        await WaitForState(http, first, "done", 60);
        Assert.True(File.Exists(P($"state/images/{first}.png")));

        var second = await Submit(http, new { height = 8, width = 8, steps = 16, seed = 2 });
        await WaitForState(http, second, "done", 60);
        // Only the newest finished job is kept: the first is gone, image and state.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (File.Exists(P($"state/images/{first}.png")) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(File.Exists(P($"state/images/{first}.png")));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"jobs/{first}")).StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await http.GetStringAsync("jobs")).RootElement.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task SIGTERMSavesARunningJobWhereItIsAndARestartFinishesIt()
    {
        var expected = Embedded("32x64", 13, "--steps", "256");
        var port = Ports.Free();
        // PersistEvery far beyond the job: only the drain itself can have saved the canvas.
        var config = Embedded(port, canvas: new { PersistEvery = 100000 });
        var id = await StopMidJob(config, port, new { height = 32, width = 64, seed = 13, steps = 256 }, 40, silo =>
        {
            silo.Terminate();
            Assert.Equal(0, silo.WaitForExit(30));
        });
        using var restarted = UtProcess.Silo(config);
        var resumed = restarted.WaitFor($"job {id} resuming at step");
        Assert.InRange(int.Parse(resumed.Split("resuming at step ")[1]), 40, 255);
        var again = await ReadyGateway(port);
        await WaitForState(again, id, "done", 60);
        Assert.Equal(expected, await again.GetByteArrayAsync($"jobs/{id}/image"));
    }

    [Fact]
    public async Task UnreadableJobStateFailsThatJobAndTheSiloCarriesOn()
    {
        var port = Ports.Free();
        var config = Embedded(port, canvas: new { PersistEvery = 4 });
        var id = await StopMidJob(config, port, new { height = 32, width = 64, seed = 3, steps = 256 }, 10, silo => silo.Kill());
        // the job's state file, not a write the kill cut short (AtomicFile's ".NAME.PID.GUID.tmp" beside it)
        var state = Directory.GetFiles(P("state/grains/job")).Single(f => f.Contains(id) && !Path.GetFileName(f).StartsWith('.'));
        File.WriteAllText(state, "{ not a job"); // garbage where the job's saved canvas was

        using var restarted = UtProcess.Silo(config);
        var again = await ReadyGateway(port);
        await WaitForState(again, id, "failed", 30);
        Assert.Contains($"job {id}", (await Status(again, id)).GetProperty("error").GetString());
        // The silo is still serving: another job runs to the end.
        var next = await Submit(again, new { height = 8, width = 8, steps = 8 });
        await WaitForState(again, next, "done", 60);
        Assert.False(restarted.Exited);
    }

    [Fact]
    public async Task CtrlCOnUtSubmitCancelsItsJob()
    {
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Embedded(port));
        var http = await ReadyGateway(port);
        using var submit = new UtProcess(null, "submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "64x64", "--steps", "256", "--out", P("x.png"));
        var id = submit.WaitFor("accepted by").Split(' ')[2];
        await WaitForState(http, id, "running", 30);
        submit.Interrupt();
        Assert.Equal(130, submit.WaitForExit(30));
        Assert.Contains($"job {id} cancelled", submit.Output);
        await WaitForState(http, id, "cancelled", 30);
        Assert.False(File.Exists(P("x.png")));
    }
}
