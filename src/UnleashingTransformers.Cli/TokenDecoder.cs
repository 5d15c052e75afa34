using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary>A VQ-GAN opened for the CLI: token grids to image files and images to token grids.</summary>
internal sealed class TokenDecoder : IDisposable
{
    public VqAutoEncoder Model { get; }
    private readonly Device _device;

    /// <summary>The file's version (SHA-256 prefix), as images record it.</summary>
    public string Version { get; }

    private TokenDecoder(VqAutoEncoder model, Device device, string version) => (Model, _device, Version) = (model, device, version);

    /// <summary>Opens a VQ-GAN checkpoint (null when <paramref name="path"/> is); when a prior's codebook
    /// size is given, the two must agree.</summary>
    public static TokenDecoder? Open(string? path, Device device, int? priorCodebook = null)
    {
        if (path is null) return null;
        CommonOptions.RequireFile(path, "--vqgan");
        var model = VqGanCheckpoint.Load(path, device);
        var codes = model.quantize.CodebookSize;
        if (priorCodebook is { } k && codes != k)
        {
            model.Dispose();
            throw new ArgumentException($"--vqgan {path} has a codebook of {codes} codes but the prior generates {k}: use the VQ-GAN the prior was trained with");
        }
        return new TokenDecoder(model, device, Grid.Replicas.ModelVersion.OfFile(path));
    }

    public long CodebookSize => Model.quantize.CodebookSize;

    /// <summary>Decodes a grid (any H x W: whole up to 64x64 tokens, above in blended tiles streamed to the file, as
    /// the canvas does) and saves it as an image (format by extension), atomically; a PNG carries <paramref name="parameters"/> (how it
    /// was made) when given.</summary>
    public void Save(TokenGrid grid, string path, string? parameters = null, int tile = 0)
    {
        if (grid.Tokens.Any(t => t < 0 || t >= CodebookSize))
            throw new ArgumentException($"token id out of range: ids must lie in 0..{CodebookSize - 1}");
        Models.VqGan.CanvasDecoder.DecodeToFile(Model, grid.Tokens, grid.H, grid.W, path, tile, device: _device, parameters: parameters);
    }

    /// <summary>Tokens of one prepared image (3, S, S).</summary>
    public TokenGrid Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var f = Model.Downscale;
        var (h, w) = ((int)image.size(1) / f, (int)image.size(2) / f);
        var ids = Model.encode(image.unsqueeze(0).to(_device));
        return new TokenGrid(h, w, ids.ToArray<long>());
    }

    /// <summary>Tokens of an image file at its own size, whose sides must be multiples of the token size.</summary>
    public TokenGrid EncodeFile(string path, string flag, long maxPixels = ImageCodec.DefaultMaxPixels)
    {
        CommonOptions.RequireFile(path, flag);
        using var scope = NewDisposeScope();
        var image = Images.LoadRgb(path, maxPixels).to(float32) / 255;
        var (f, h, w) = (Model.Downscale, image.size(1), image.size(2));
        if (h % f != 0 || w % f != 0)
            throw new ArgumentException($"{flag} {path} is {w}x{h} px, not a multiple of the VQ-GAN's {f}-pixel tokens: crop it, or encode it resized (ut encode --size)");
        return Encode(image);
    }

    public void Dispose() => Model.Dispose();
}
