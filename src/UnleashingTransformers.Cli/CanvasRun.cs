using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary>A canvas sampled in this process (<c>ut generate</c>, <c>ut inpaint</c>): replicas of the prior
/// serve the window pool, the coordinator runs with a progress bar.</summary>
internal sealed class CanvasRun
{
    public int Replicas { get; }
    private readonly int _batch;

    public CanvasRun(Device device, int replicas, int batch, int threads)
    {
        if (replicas < 1) throw new ArgumentException("--replicas must be >= 1");
        if (batch < 1) throw new ArgumentException("--batch must be >= 1");
        (Replicas, _batch) = (replicas, batch);
        // Replicas share the cores: unless told, each gets its share; BLAS runs on one thread whatever the setting.
        if (replicas > 1 && threads == 0) torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / replicas));
        WindowThreads.Pin(device);
    }

    /// <summary>Samples the canvas (from <paramref name="initial"/> when given: its non-mask tokens stay).</summary>
    public CanvasCoordinator Sample(string label, PriorReplicas models, CanvasOptions options, long[]? initial = null)
    {
        using var telemetry = GridOptions.TelemetryFromEnvironment($"ut-{label}");
        var local = new List<ReplicaModel>();
        try
        {
            for (var i = 0; i < Replicas; i++) local.Add(models.Load());
            var pool = new InProcessWindowPool(local.Select(m => m.Denoiser).ToList(), _batch);
            try
            {
                var canvas = new CanvasCoordinator(pool, options, initial);
                using var job = GridTelemetry.Source.StartActivity("canvas.job");
                ConsoleProgress.Run(label, canvas.Steps, report =>
                    canvas.RunAsync(p => report(p.Step, $"{p.Revealed}/{p.Total} tokens, {p.WindowPasses} window passes")).GetAwaiter().GetResult());
                return canvas;
            }
            finally
            {
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            foreach (var m in local) m.Owner?.Dispose();
        }
    }

    /// <summary>What images a canvas can be written as: .tif is tiled and pyramidal, .dzi a DeepZoom pyramid
    /// (x.dzi and x_files/) for zoomable viewers; JPEG and WebP stop at 65,500 and 16,383 px a side.</summary>
    public static readonly string[] ImageExtensions = { ".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".dzi" };

    public static void CheckImagePath(string path)
    {
        if (!ImageExtensions.Contains(Path.GetExtension(path).ToLowerInvariant()))
            throw new ArgumentException($"--out {path}: unknown image format (use .png, .tif, .dzi, .jpg or .webp)");
    }

    /// <summary>Output files must go to directories that exist (checked before any work).</summary>
    public static void CheckDirectories(params string?[] files)
    {
        foreach (var file in files.OfType<string>())
            if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } dir && !Directory.Exists(dir))
                throw new ArgumentException($"{file}: directory {dir} does not exist");
    }
}
