using System.CommandLine;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut submit</c>: sends a generation job to a gateway, follows it, fetches the image.</summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var gateway = new Option<string>("--gateway") { Description = "gateway address, e.g. http://127.0.0.1:8080", Required = true };
        var shape = new Option<string>("--shape") { Description = "canvas in tokens, HxW", DefaultValueFactory = _ => "32x64" };
        var window = new Option<string?>("--window") { Description = "window in tokens, N or HxW (default: the prior's grid)" };
        var stride = new Option<int?>("--stride") { Description = "window stride in tokens" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 256 };
        var temp = new Option<double>("--temp") { DefaultValueFactory = _ => 0.8 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var aggregate = new Option<string>("--aggregate") { DefaultValueFactory = _ => "mean", Description = "mean, gaussian or poe" };
        var order = new Option<string>("--order") { DefaultValueFactory = _ => "parallel", Description = "parallel or raster" };
        var output = new Option<string>("--out") { Description = "image file (.png)", DefaultValueFactory = _ => "generated.png" };
        var cmd = new Command("submit", "Submit a generation job to a silo's gateway, follow its progress and fetch the image")
        {
            gateway, shape, window, stride, steps, temp, seed, aggregate, order, output,
        };
        cmd.SetAction(r =>
        {
            // Ctrl-C or SIGTERM while following the job: cancel the job too (nobody would wait for it).
            using var stop = new CancellationTokenSource();
            void Stop(PosixSignalContext context) { context.Cancel = true; stop.Cancel(); }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            return RunAsync(r.GetValue(gateway)!, GenerateCommand.Spec(r, shape, window, stride, steps, temp, seed, aggregate, order), r.GetValue(output)!, stop.Token)
                .GetAwaiter().GetResult();
        });
        return cmd;
    }

    private static async Task<int> RunAsync(string gateway, CanvasJobSpec spec, string outPath, CancellationToken cancel)
    {
        if (!Uri.TryCreate(gateway, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--gateway {gateway}: expected http://host:port");
        if (Path.GetExtension(outPath).ToLowerInvariant() != ".png") throw new ArgumentException($"--out {outPath}: the gateway returns PNG images, use .png");
        if (Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir && !Directory.Exists(dir)) throw new ArgumentException($"{outPath}: directory {dir} does not exist");
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        HttpResponseMessage created;
        try
        {
            created = await http.PostAsJsonAsync("jobs", spec, json, cancel);
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"gateway {gateway} is unreachable ({e.Message}): start a silo with the gateway role or fix --gateway", e);
        }
        if (!created.IsSuccessStatusCode) throw new ArgumentException($"gateway refused the job: {await ErrorOf(created, cancel)}");
        var status = (await created.Content.ReadFromJsonAsync<JobStatus>(json, cancel))!;
        Console.WriteLine($"submit: job {status.Id} accepted by {gateway}");
        try
        {
            ConsoleProgress.Run("job " + status.Id, status.Steps, report =>
            {
                while (!status.Finished)
                {
                    Task.Delay(250, cancel).GetAwaiter().GetResult();
                    status = http.GetFromJsonAsync<JobStatus>($"jobs/{status.Id}", json, cancel).GetAwaiter().GetResult()!;
                    report(status.Step, $"{status.State.ToString().ToLowerInvariant()}, {status.Revealed}/{status.Total} tokens");
                }
            });
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the job would go on without anyone waiting for it.
            await http.DeleteAsync($"jobs/{status.Id}", CancellationToken.None);
            Console.Error.WriteLine($"submit: job {status.Id} cancelled");
            return 130;
        }
        if (status.State != JobState.Done) throw new IOException($"job {status.Id} {status.State.ToString().ToLowerInvariant()}{(status.Error is null ? "" : $": {status.Error}")}");
        var image = await http.GetAsync($"jobs/{status.Id}/image", cancel);
        if (!image.IsSuccessStatusCode) throw new IOException($"job {status.Id}: image not available: {await ErrorOf(image, cancel)}");
        var bytes = await image.Content.ReadAsByteArrayAsync(cancel);
        AtomicFile.Write(outPath, tmp => File.WriteAllBytes(tmp, bytes));
        Console.WriteLine($"submit: job {status.Id} done in {status.Step} steps -> {outPath}");
        return 0;
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response, CancellationToken cancel)
    {
        var body = await response.Content.ReadAsStringAsync(cancel);
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString() ?? body;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"HTTP {(int)response.StatusCode} {body}";
        }
    }
}
