using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What canvas job grains of one silo share: the prior's shape, the limits, a window pool per job, the
/// VQ-GAN that renders finished canvases (one decode at a time, on its own thread: each holds the whole
/// image), where images go, and the silo's job slots (<c>Canvas:MaxJobs</c>).
/// </summary>
public sealed class CanvasRuntime : IDisposable
{
    /// <summary>The grain storage name of job state and of the job index.</summary>
    public const string Storage = "jobs";

    private readonly VqAutoEncoder _vqgan;
    private readonly Device _device;
    private readonly Func<string, IWindowPool> _pools;
    private readonly SemaphoreSlim _decode = new(1);
    private readonly Lazy<byte[]> _palette;

    public PriorInfo Prior { get; }
    /// <summary>The VQ-GAN file's version (SHA-256 prefix), recorded in every image.</summary>
    public string VqGanVersion { get; }
    public CanvasSettings Settings { get; }
    public string ImageDirectory { get; }
    public SemaphoreSlim Slots { get; }

    public CanvasRuntime(PriorInfo prior, CanvasSettings settings, string vqganPath, Device device, string stateDirectory, Func<string, IWindowPool> pools)
    {
        _vqgan = VqGanCheckpoint.Load(vqganPath, device);
        if (_vqgan.quantize.CodebookSize is var codes && codes != prior.CodebookSize)
        {
            _vqgan.Dispose();
            throw new ArgumentException($"Models:VqGan has {codes} codes but the prior generates {prior.CodebookSize}: use the VQ-GAN the prior was trained with");
        }
        (Prior, Settings, _device, _pools) = (prior, settings, device, pools);
        VqGanVersion = ModelVersion.OfFile(vqganPath);
        _palette = new Lazy<byte[]>(() => CodePalette.Of(_vqgan, _device));
        ImageDirectory = Path.Combine(stateDirectory, "images");
        Directory.CreateDirectory(ImageDirectory);
        Slots = new SemaphoreSlim(settings.MaxJobs);
    }

    public CanvasOptions Options(CanvasJobSpec spec) => spec.ToOptions(Prior.GridHeight, Prior.GridWidth, Settings.Limits);

    /// <summary>Steps the job takes in all (raster order: one per token).</summary>
    public static int TotalSteps(CanvasOptions options) => options.Order == RevealOrder.Raster ? options.Cells : options.Steps;

    public IWindowPool Pool(string model) => _pools(model);

    public string ImagePath(string id) => Path.Combine(ImageDirectory, $"{id}.png");

    /// <summary>The DeepZoom pyramid of a job's image: <c>{id}.dzi</c> and the folder <c>{id}_files</c>.</summary>
    public string PyramidPath(string id) => Path.Combine(ImageDirectory, $"{id}.dzi");

    private string PyramidTiles(string id) => Path.Combine(ImageDirectory, $"{id}_files");

    /// <summary>Where a file of a job's pyramid that a viewer asks for lies: only <c>image.dzi</c> and tiles named as
    /// dzsave names them (<c>image_files/LEVEL/COL_ROW.jpeg</c>); null for anything else.</summary>
    public string? PyramidFile(string id, string file)
    {
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
    /// (<see cref="CodePalette"/>, computed once), masked positions grey.</summary>
    public byte[] Preview(long[] tokens, int height, int width) =>
        ImageCodec.EncodeToBytes(".png", CodePalette.Draw(tokens, _palette.Value), width, height, 3);

    /// <summary>Decodes the canvas and writes the PNG atomically, with the parameters it was made with, then its
    /// DeepZoom pyramid for zoomable viewers (streamed from the PNG).</summary>
    public async Task RenderAsync(long[] tokens, CanvasOptions options, string path, ImageParameters parameters)
    {
        await _decode.WaitAsync();
        try
        {
            await Task.Factory.StartNew(() =>
            {
                CanvasDecoder.DecodeToFile(_vqgan, tokens, options.Height, options.Width, path, device: _device, parameters: parameters.ToJson());
                Images.Convert(path, Path.ChangeExtension(path, ".dzi"));
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            _decode.Release();
        }
    }

    public void Dispose()
    {
        _vqgan.Dispose();
        _decode.Dispose();
        Slots.Dispose();
    }
}
