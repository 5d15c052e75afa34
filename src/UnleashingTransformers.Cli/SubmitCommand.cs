using System.CommandLine;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut submit</c>: sends a generation job to a gateway (HTTP) or to the cluster (an Orleans
/// client), follows it, fetches the image.</summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var gateway = new Option<string?>("--gateway") { Description = "gateway address, e.g. http://127.0.0.1:8080 (token, if it needs one: UT__Gateway__Token)" };
        var cluster = new Option<string?>("--cluster") { Description = "the cluster's redis, e.g. redis://127.0.0.1:6379: submit as an Orleans client" };
        var canvas = new CanvasFlags();
        var output = new Option<string>("--out")
        {
            Description = "image file: .png (the job's own), .tif (tiled, pyramidal) or .dzi (DeepZoom pyramid), made from it",
            DefaultValueFactory = _ => "generated.png"
        };
        var priority = new Option<string?>("--priority")
        {
            Description = $"interactive or batch: the job's share of the replicas beside other jobs' (default: interactive up to " +
            $"{JobPriorities.InteractiveTokens} tokens)"
        };
        var model = new Option<string?>("--model") { Description = "the model to generate with, by name (the gateway's GET /models; default: the grid's first)" };
        var cmd = new Command("submit", "Submit a generation job to a gateway or a cluster, follow its progress and fetch the image") { gateway, cluster, priority, model };
        canvas.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.SetAction(r =>
        {
            if ((r.GetValue(gateway) is null) == (r.GetValue(cluster) is null)) throw new ArgumentException("give one of --gateway URL or --cluster redis://host:port");
            var spec = canvas.Spec(r) with { Priority = r.GetValue(priority), Model = r.GetValue(model) };
            if (spec.Priority is not (null or "interactive" or "batch")) throw new ArgumentException($"--priority {spec.Priority}: expected interactive or batch");
            var outPath = r.GetValue(output)!;
            if (Path.GetExtension(outPath).ToLowerInvariant() is not (".png" or ".tif" or ".tiff" or ".dzi"))
                throw new ArgumentException($"--out {outPath}: jobs give PNG images; use .png, or .tif / .dzi for a pyramid made from it");
            if (Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir && !Directory.Exists(dir)) throw new ArgumentException($"{outPath}: directory {dir} does not exist");
            // Ctrl-C or SIGTERM while following the job: cancel the job too (nobody would wait for it).
            using var stop = new CancellationTokenSource();
            void Stop(PosixSignalContext context) { context.Cancel = true; stop.Cancel(); }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            return RunAsync(r.GetValue(gateway), r.GetValue(cluster), spec, outPath, stop.Token).GetAwaiter().GetResult();
        });
        return cmd;
    }

    private static async Task<int> RunAsync(string? gateway, string? cluster, CanvasJobSpec spec, string outPath, CancellationToken cancel)
    {
        await using IJobConnection jobs = gateway is not null
            ? new GatewayConnection(gateway, Environment.GetEnvironmentVariable("UT__Gateway__Token"))
            : await ClusterConnection.ConnectAsync(cluster!, cancel);
        var status = await jobs.SubmitAsync(spec, cancel);
        Console.WriteLine($"submit: job {status.Id} accepted by {jobs.Where}");
        try
        {
            ConsoleProgress.Run("job " + status.Id, status.Steps, report =>
            {
                while (!status.Finished)
                {
                    Task.Delay(250, cancel).GetAwaiter().GetResult();
                    status = jobs.StatusAsync(status.Id, cancel).GetAwaiter().GetResult();
                    report(status.Step, $"{status.State.ToString().ToLowerInvariant()}, {status.Revealed}/{status.Total} tokens");
                }
            });
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the job would go on without anyone waiting for it.
            await jobs.CancelAsync(status.Id);
            Console.Error.WriteLine($"submit: job {status.Id} cancelled");
            return 130;
        }
        if (status.State != JobState.Done) throw new IOException($"job {status.Id} {status.State.ToString().ToLowerInvariant()}{(status.Error is null ? "" : $": {status.Error}")}");
        if (Path.GetExtension(outPath).Equals(".png", StringComparison.OrdinalIgnoreCase))
        {
            // Streamed to disk (a multi-GB image never lies in memory), renamed into place once whole.
            await AtomicFile.WriteAsync(outPath, tmp => jobs.DownloadAsync(status.Id, tmp, cancel));
        }
        else
        {
            var png = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, $".{Path.GetFileName(outPath)}.{Environment.ProcessId}.png");
            try
            {
                await jobs.DownloadAsync(status.Id, png, cancel);
                Images.Convert(png, outPath);
            }
            finally
            {
                File.Delete(png);
            }
        }
        Console.WriteLine($"submit: job {status.Id} done in {status.Step} steps -> {outPath}");
        return 0;
    }
}
