using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What canvas job grains of one silo share: the models they run on (<see cref="JobModels"/>), where images go
/// (<see cref="JobImages"/>), the limits, the silo's job slots (<c>Canvas:MaxJobs</c> of each priority), and the
/// two things a job does with its model's VQ-GAN on the window silos: its preview and its render.
/// </summary>
public sealed class CanvasRuntime : IDisposable
{
    /// <summary>The grain storage name of job state and of the job index.</summary>
    public const string Storage = "jobs";

    private readonly SemaphoreSlim[] _slots;

    public JobModels Models { get; }
    public JobImages Images { get; }
    public CanvasSettings Settings { get; }

    /// <summary>The silo's job slots of a priority (<c>Canvas:MaxJobs</c> each): a running batch job never keeps an
    /// interactive one (at most 64x64 tokens, little memory) waiting for a slot.</summary>
    public SemaphoreSlim Slots(JobPriority priority) => _slots[(int)priority];

    /// <param name="describe">Reads a model's prior for its shape (a second or so: called once a version).</param>
    /// <param name="replicas">The replicas a job of the given model works with, as the given flow's share of them.</param>
    public CanvasRuntime(ModelCatalog models, Func<ModelEntry, PriorInfo> describe, CanvasSettings settings, string stateDirectory,
        Func<ModelKey, PriorInfo, WindowFlow, IJobReplicas> replicas)
    {
        (Models, Images, Settings) = (new JobModels(models, describe, replicas), new JobImages(stateDirectory), settings);
        _slots = [.. Enum.GetValues<JobPriority>().Select(_ => new SemaphoreSlim(settings.MaxJobs))];
    }

    /// <summary>The spec's options; a setting refused is named by the spec's field (the job's callers speak JSON).</summary>
    public CanvasOptions Options(CanvasJobSpec spec, PriorInfo prior)
    {
        try
        {
            return spec.ToOptions(prior.GridHeight, prior.GridWidth, Settings.Limits);
        }
        catch (SettingException e)
        {
            throw new ArgumentException(JobFields.Describe(e), e);
        }
    }

    /// <summary>Steps the job takes in all (raster order: one per token).</summary>
    public static int TotalSteps(CanvasOptions options) => options.Order == RevealOrder.Raster ? options.Cells : options.Steps;

    /// <summary>Refuses (ArgumentException naming the limit and its key) a job this silo's memory or the state
    /// volume cannot hold. Before any window silo has answered, the VQ-GAN's scale is unknown and the check waits
    /// for the render.</summary>
    public async Task CheckCapacityAsync(CanvasOptions options, ModelKey model)
    {
        if (Models.KnownDecoder(model) is not { } decoder)
        {
            try
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                decoder = await Models.DecoderAsync(model, wait.Token);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                return;
            }
        }
        CanvasCapacity.Check(options, decoder.Downscale, Settings, Images.Directory);
    }

    /// <summary>A PNG of the canvas as it stands, one pixel a token: each revealed token in its code's mean colour
    /// (<see cref="CodePalette"/>, from the window silos' VQ-GAN), masked positions grey.</summary>
    public async Task<byte[]> PreviewAsync(ModelKey model, long[] tokens, int height, int width)
    {
        var palette = (await Models.DecoderAsync(model)).Palette;
        return ImageCodec.EncodeToBytes(".png", CodePalette.Draw(tokens, palette), width, height, 3);
    }

    /// <summary>Decodes the canvas on the window silos' replicas, tile by tile, blending the tiles into the PNG as
    /// they come (atomically, with the parameters it was made with; never the whole image in memory), then its
    /// DeepZoom pyramid for zoomable viewers (streamed from the PNG). The same bytes as <c>ut generate</c>'s.</summary>
    public async Task RenderAsync(ModelKey model, IJobReplicas replicas, long[] tokens, CanvasOptions options, string path, Func<string, ImageParameters> parameters, CancellationToken cancel)
    {
        using var activity = GridTelemetry.Source.StartActivity("canvas.render");
        var decoder = await Models.DecoderAsync(model, cancel);
        CanvasCapacity.Check(options, decoder.Downscale, Settings, Images.Directory);
        var tiling = new DecodeTiling(options.Height, options.Width, decoder.Downscale);
        // A render cut short by a killed silo left its raw pixels behind: this one starts over.
        CanvasDecoder.RemoveLeftovers(path);
        var recorded = parameters(decoder.Version).ToJson();
        // Off the grain's scheduler (which the job's state belongs to): blending and encoding are CPU work.
        var (tiles, encode, pyramid) = await Task.Run(async () =>
        {
            var (tiles, encode) = await CanvasDecoder.RenderAsync(tiling, replicas.DecodeAsync(tiling, tokens, decoder.Version, cancel), path, recorded, cancel);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Imaging.Images.Convert(path, Path.ChangeExtension(path, ".dzi"));
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
