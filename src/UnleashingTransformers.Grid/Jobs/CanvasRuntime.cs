using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What canvas job grains of one silo share: the prior's shape, the limits, the replicas each job works
/// with (window passes, and the decode of its finished canvas: a canvas silo loads no model), where
/// images go, and the silo's job slots (<c>Canvas:MaxJobs</c> of each priority).
/// </summary>
public sealed class CanvasRuntime : IDisposable
{
    /// <summary>The grain storage name of job state and of the job index.</summary>
    public const string Storage = "jobs";

    private readonly Func<string, WindowFlow, IJobReplicas> _replicas;
    private DecoderInfo? _decoder;

    public PriorInfo Prior { get; }
    public CanvasSettings Settings { get; }
    public string ImageDirectory { get; }

    /// <summary>How long a render's temporary file lies untouched before a starting silo takes it for a dead render's.</summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim[] _slots;

    /// <summary>The silo's job slots of a priority (<c>Canvas:MaxJobs</c> each): a running batch job never keeps an
    /// interactive one (at most 64x64 tokens, little memory) waiting for a slot.</summary>
    public SemaphoreSlim Slots(JobPriority priority) => _slots[(int)priority];

    /// <param name="replicas">The replicas a job of the given weights version works with.</param>
    public CanvasRuntime(PriorInfo prior, CanvasSettings settings, string stateDirectory, Func<string, WindowFlow, IJobReplicas> replicas)
    {
        (Prior, Settings, _replicas) = (prior, settings, replicas);
        ImageDirectory = Path.Combine(stateDirectory, "images");
        Directory.CreateDirectory(ImageDirectory);
        // Renders cut short by a killed silo (this one, or another on the shared volume) left files behind.
        if (CanvasDecoder.RemoveLeftovers(ImageDirectory, LeftoverAge) is var removed and > 0)
            Console.WriteLine($"silo: removed {removed} leftover file(s) of renders cut short from {ImageDirectory}");
        _slots = [.. Enum.GetValues<JobPriority>().Select(_ => new SemaphoreSlim(settings.MaxJobs))];
    }

    public CanvasOptions Options(CanvasJobSpec spec) => spec.ToOptions(Prior.GridHeight, Prior.GridWidth, Settings.Limits);

    /// <summary>Steps the job takes in all (raster order: one per token).</summary>
    public static int TotalSteps(CanvasOptions options) => options.Order == RevealOrder.Raster ? options.Cells : options.Steps;

    /// <summary>The replicas of weights <paramref name="model"/>, as <paramref name="flow"/>'s share of them.</summary>
    public IJobReplicas Replicas(string model, WindowFlow flow) => _replicas(model, flow);

    /// <summary>The window silos' VQ-GAN (asked once, then kept: every window silo must hold the same one).</summary>
    public async Task<DecoderInfo> DecoderAsync(CancellationToken cancel = default) =>
        _decoder ??= await _replicas(Prior.Version, WindowFlow.Anonymous).DecoderAsync(cancel);

    /// <summary>Refuses (ArgumentException naming the limit and its key) a job this silo's memory or the state
    /// volume cannot hold. Before any window silo has answered, the VQ-GAN's scale is unknown and the check waits
    /// for the render.</summary>
    public async Task CheckCapacityAsync(CanvasOptions options)
    {
        var decoder = _decoder;
        if (decoder is null)
        {
            try
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                decoder = await DecoderAsync(wait.Token);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                return;
            }
        }
        CanvasCapacity.Check(options, decoder.Downscale, Settings, ImageDirectory);
    }

    public string ImagePath(string id) => Path.Combine(ImageDirectory, $"{id}.png");

    /// <summary>The DeepZoom pyramid of a job's image: <c>{id}.dzi</c> and the folder <c>{id}_files</c>.</summary>
    public string PyramidPath(string id) => Path.Combine(ImageDirectory, $"{id}.dzi");

    private string PyramidTiles(string id) => Path.Combine(ImageDirectory, $"{id}_files");

    /// <summary>Where a file of a job's output that a reader asks for lies: <c>image.png</c>, <c>image.dzi</c> and
    /// tiles named as dzsave names them (<c>image_files/LEVEL/COL_ROW.jpeg</c>); null for anything else.</summary>
    public string? OutputFile(string id, string file)
    {
        if (file == "image.png") return ImagePath(id);
        if (file == "image.dzi") return PyramidPath(id);
        var parts = file.Split('/');
        if (parts.Length == 3 && parts[0] == "image_files" && int.TryParse(parts[1], out var level) && level is >= 0 and < 64
            && System.Text.RegularExpressions.Regex.IsMatch(parts[2], "^[0-9]{1,6}_[0-9]{1,6}\\.jpeg$"))
            return Path.Combine(PyramidTiles(id), level.ToString(), parts[2]);
        return null;
    }

    /// <summary>Removes a job's image and its pyramid (retention).</summary>
    public void DeleteImages(string id)
    {
        File.Delete(ImagePath(id));
        File.Delete(PyramidPath(id));
        if (Directory.Exists(PyramidTiles(id))) Directory.Delete(PyramidTiles(id), recursive: true);
    }

    /// <summary>A PNG of the canvas as it stands, one pixel a token: each revealed token in its code's mean colour
    /// (<see cref="CodePalette"/>, from the window silos' VQ-GAN), masked positions grey.</summary>
    public async Task<byte[]> PreviewAsync(long[] tokens, int height, int width)
    {
        var palette = (await DecoderAsync()).Palette;
        return ImageCodec.EncodeToBytes(".png", CodePalette.Draw(tokens, palette), width, height, 3);
    }

    /// <summary>Decodes the canvas on the window silos' replicas, tile by tile, blending the tiles into the PNG as
    /// they come (atomically, with the parameters it was made with; never the whole image in memory), then its
    /// DeepZoom pyramid for zoomable viewers (streamed from the PNG). The same bytes as <c>ut generate</c>'s.</summary>
    public async Task RenderAsync(IJobReplicas replicas, long[] tokens, CanvasOptions options, string path, Func<string, ImageParameters> parameters, CancellationToken cancel)
    {
        using var activity = GridTelemetry.Source.StartActivity("canvas.render");
        var decoder = await DecoderAsync(cancel);
        CanvasCapacity.Check(options, decoder.Downscale, Settings, ImageDirectory);
        var tiling = new DecodeTiling(options.Height, options.Width, decoder.Downscale);
        // A render cut short by a killed silo left its raw pixels behind: this one starts over.
        CanvasDecoder.RemoveLeftovers(path);
        var recorded = parameters(decoder.Version).ToJson();
        // Off the grain's scheduler (which the job's state belongs to): blending and encoding are CPU work.
        var (tiles, encode, pyramid) = await Task.Run(async () =>
        {
            var (tiles, encode) = await CanvasDecoder.RenderAsync(tiling, replicas.DecodeAsync(tiling, tokens, decoder.Version, cancel), path, recorded, cancel);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Images.Convert(path, Path.ChangeExtension(path, ".dzi"));
            return (tiles, encode, clock.Elapsed);
        }, cancel);
        Console.WriteLine($"silo: {Path.GetFileNameWithoutExtension(path)} rendered: {tiling.Tiles.Count} tiles decoded and blended in {tiles.TotalSeconds:F1} s, " +
            $"PNG written in {encode.TotalSeconds:F1} s, pyramid in {pyramid.TotalSeconds:F1} s");
    }

    public void Dispose()
    {
        foreach (var slots in _slots) slots.Dispose();
    }
}
