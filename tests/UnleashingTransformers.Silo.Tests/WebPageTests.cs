using System.Globalization;
using Microsoft.Playwright;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The gateway's web page in a real browser: Playwright driving Debian's chromium (deploy/bootstrap.sh
/// installs it; Playwright cannot download its own browsers here).</summary>
public sealed class WebPageTests : GridTest
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>Screenshots land here (the repository's TestResults/web), for a person to look at.</summary>
    private static readonly string Shots = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "TestResults", "web"));

    [Fact]
    public async Task ThePageSubmitsAJobShowsItFillingInZoomsIntoTheResultAndCancelsAnother()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run deploy/bootstrap.sh (it installs Debian's chromium)");
        Directory.CreateDirectory(Shots);
        var port = Ports.Free();
        // Two models (the bundled one under two names): the page offers both, the first selected.
        var models = new[] { new { Name = "terrain", Prior, VqGan }, new { Name = "terrain-b", Prior, VqGan } };
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Models = models, Gateway = new { Port = port } }));
        var http = await ReadyGateway(port);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 1100 } });
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync($"http://127.0.0.1:{port}/");
        Assert.Equal("Unleashing Transformers: canvas jobs", await page.TitleAsync());
        // The form starts from the gateway's defaults, the job spec's own (no values in the page's HTML).
        await page.WaitForFunctionAsync("() => document.body.dataset.defaults === 'loaded'");
        var defaults = new CanvasJobSpec();
        Assert.Equal([$"{defaults.Steps}", defaults.Temperature.ToString(CultureInfo.InvariantCulture), "shifted", "halton"], await page.EvaluateAsync<string[]>(
            "() => ['steps', 'temperature', 'tiling', 'schedule'].map(n => document.querySelector(`#job-form [name=${n}]`).value)"));

        // A job from the form: its view opens, status events arrive, the preview is redrawn as tokens are revealed.
        await page.FillAsync("input[name=height]", "24");
        await page.FillAsync("input[name=width]", "48");
        await page.FillAsync("input[name=steps]", "96");
        await page.SelectOptionAsync("select[name=schedule]", "reciprocal");
        await page.WaitForFunctionAsync("() => document.getElementById('model').options.length === 2");
        Assert.Equal(["terrain", "terrain-b (not loaded)"], await page.EvaluateAsync<string[]>("() => [...document.getElementById('model').options].map(o => o.textContent)"));
        Assert.Equal("terrain", await page.InputValueAsync("#model"));
        await page.SelectOptionAsync("#model", "terrain-b");
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync("() => Number(document.body.dataset.events ?? 0) >= 3 && document.getElementById('job-state').textContent === 'running'");
        // The job runs on the model chosen: the window silo loaded it for the job.
        var chosen = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("models")).RootElement.GetProperty("models").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == "terrain-b");
        Assert.NotEmpty(chosen.GetProperty("loaded").EnumerateArray());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Shots, "job-running.png") });
        var id = await page.TextContentAsync("#job-id");
        Assert.Matches("^[0-9a-f]{16}$", id);
        await page.WaitForFunctionAsync("() => document.getElementById('job-state').textContent === 'done'", null, new() { Timeout = 90_000 });
        Assert.True(int.Parse((await page.GetAttributeAsync("body", "data-previews"))!) >= 2, "the preview was redrawn as the job ran");
        Assert.Equal("1", await page.EvaluateAsync<string>("() => String(document.getElementById('job-progress').value)"));
        Assert.Equal(48, await page.EvaluateAsync<int>("() => document.getElementById('preview').naturalWidth"));   // one pixel a token

        // The finished image in the zoomable viewer: OpenSeadragon loads tiles of the job's DeepZoom pyramid.
        await page.WaitForFunctionAsync("() => Number(document.body.dataset.tilesLoaded ?? 0) >= 1", null, new() { Timeout = 30_000 });
        // Its controls' images come from the build's copy of OpenSeadragon: all of them load.
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#viewer img')].length > 0 && [...document.querySelectorAll('#viewer img')].every(i => i.complete && i.naturalWidth > 0)",
            null, new() { Timeout = 10_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Shots, "job-viewer.png") });
        Assert.Contains($"/jobs/{id}/image", await page.GetAttributeAsync("#job-png", "href"));

        // A second, long job: cancelled from its view; the list shows both.
        await page.FillAsync("input[name=height]", "64");
        await page.FillAsync("input[name=width]", "64");
        await page.FillAsync("input[name=steps]", "256");
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync($"() => document.getElementById('job-id').textContent !== '{id}' && document.getElementById('job-state').textContent === 'running'");
        await page.ClickAsync("#cancel");
        await page.WaitForFunctionAsync("() => document.getElementById('job-state').textContent === 'cancelled'", null, new() { Timeout = 30_000 });
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#job-list tr').length >= 2", null, new() { Timeout = 10_000 });
        var states = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#job-list .state')].map(s => s.textContent)");
        Assert.Contains("done", states);
        Assert.Contains("cancelled", states);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Shots, "job-list.png") });

        // Bad input is shown, not thrown.
        await page.FillAsync("input[name=height]", "4");
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync("() => document.getElementById('form-error').textContent.includes('smaller than')");
        Assert.Empty(errors);
    }
    [Fact]
    public async Task JobDataIsShownAsTextCrossSiteWritesFailAndTheTokenStaysOutOfScriptsReach()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run deploy/bootstrap.sh (it installs Debian's chromium)");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });

        // A loopback gateway (no token): another site's page tries to create jobs on it, as a form (text/plain,
        // JSON-shaped) and as a blind fetch. Neither makes a job.
        var port = Ports.Free();
        using (var silo = UtProcess.Silo(Config("open.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port } })))
        {
            var http = await ReadyGateway(port);
            var evil = await browser.NewPageAsync();
            await evil.RouteAsync("http://evil.test/**", route => route.FulfillAsync(new()
            {
                ContentType = "text/html",
                Body = $$"""
                    <form id="f" method="post" action="http://127.0.0.1:{{port}}/jobs" enctype="text/plain">
                      <input name='{"height":8,"width":8,"steps":4,"seed":1,"x":"' value='"}'></form>
                    <script>
                      fetch("http://127.0.0.1:{{port}}/jobs", { method: "POST", mode: "no-cors", body: '{"height":8,"width":8,"steps":4,"seed":2}',
                        headers: { "Content-Type": "text/plain" } }).finally(() => document.getElementById("f").submit());
                    </script>
                    """,
            }));
            await evil.GotoAsync("http://evil.test/");
            await evil.WaitForURLAsync($"http://127.0.0.1:{port}/jobs", new() { Timeout = 10_000 });
            // The browser marks the form's post cross-site: refused before its body is read (a text/plain body would be too).
            Assert.Contains("from another site is refused", await evil.ContentAsync(), StringComparison.Ordinal);
            Assert.Equal(0, System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("jobs")).RootElement.GetProperty("total").GetInt32());
        }

        // Off loopback (the gateway wants its token): job data with markup in it is shown as text, never run, and
        // the token, once given, is a cookie no script can read, kept nowhere in the page.
        var token = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        port = Ports.Free();
        using var guarded = UtProcess.Silo(Config("guarded.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Host = "0.0.0.0", Port = port, Token = token } }));
        await ReadyGateway(port);
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        const string markup = "<img src=x onerror=\"window.pwned=1\">";
        await page.RouteAsync("**/jobs?limit=20", async route =>
        {
            // The list as a hostile job record would make it (ids are checked by the grains; the page must not rely on it).
            var real = await route.FetchAsync();
            if (real.Status != 200)
            {
                await route.FulfillAsync(new() { Response = real });
                return;
            }
            var body = System.Text.Json.JsonSerializer.Serialize(new
            {
                total = 1, offset = 0, jobs = new[] { new { id = markup, state = "done<b>x</b>", step = 1, steps = 1, revealed = 1,
                total = 1 } }
            });
            await route.FulfillAsync(new() { Status = 200, ContentType = "application/json", Body = body });
        });
        await page.GotoAsync($"http://127.0.0.1:{port}/");
        await page.FillAsync("#token", token);
        await page.DispatchEventAsync("#token", "change");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#job-list tr').length === 1", null, new() { Timeout = 10_000 });
        Assert.Equal(markup, await page.TextContentAsync("#job-list code"));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => document.querySelectorAll('#job-list img[src=x], #job-list b').length"));
        Assert.False(await page.EvaluateAsync<bool>("() => window.pwned === 1"));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => sessionStorage.length + localStorage.length"));
        Assert.DoesNotContain(token, await page.EvaluateAsync<string>("() => document.cookie + document.getElementById('token').value"));
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "ut_token");
        Assert.True(cookie.HttpOnly && cookie.SameSite == SameSiteAttribute.Strict, "the token cookie is HttpOnly and SameSite=Strict");
        // The cookie is what authorises the page: a job from the form goes through.
        await page.UnrouteAsync("**/jobs?limit=20");
        await page.FillAsync("input[name=height]", "8");
        await page.FillAsync("input[name=width]", "8");
        await page.FillAsync("input[name=steps]", "4");
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync("() => document.getElementById('job-state').textContent === 'done'", null, new() { Timeout = 60_000 });
        Assert.Empty(errors);
    }
}
