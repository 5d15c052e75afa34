using System.CommandLine;
using System.Diagnostics;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.VqGan;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary>
/// <c>ut inpaint</c>: regenerates a region of a token grid or an image with the rest as context. Tokens
/// outside the region are kept exactly; those inside are masked and sampled on a canvas of the input's
/// size (windows as in <c>ut generate</c>; a grid one window large is the plain sampler).
/// </summary>
internal static class InpaintCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var canvas = new CanvasFlags(withShape: false);
        var priorFlags = new PriorFlags();
        var vqgan = new Option<string?>("--vqgan") { Description = $"VQ-GAN checkpoint: needed for --in and image outputs (with --in, default: {BundledModels.DescribeVqGan})" };
        var tokens = new Option<string?>("--tokens") { Description = "token file to edit {\"shape\":[H,W],\"tokens\":[...]}" };
        var image = new Option<string?>("--in") { Description = "image to edit (sides multiples of the VQ-GAN's tokens): encoded at its own size" };
        var mask = new Option<string?>("--mask") { Description = "with --in: mask image of the same size, white = regenerate (a token is regenerated when any of its pixels is white)" };
        var region = new Option<string?>("--region") { Description = "token rectangle to regenerate, R0:R1,C0:C1 (half-open rows and columns)" };
        var output = new Option<string>("--out") { Description = "OUT.json (tokens) or an image (.png, .jpg, .webp; needs the VQ-GAN)", Required = true };
        var tokensOut = new Option<string?>("--tokens-out") { Description = "also write the edited tokens (JSON)" };
        var cmd = new Command("inpaint", "Regenerate a region of a token grid or image, the rest kept as context") { vqgan, tokens, image, mask, region, output, tokensOut };
        priorFlags.AddTo(cmd);
        canvas.AddTo(cmd);
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            var (tokenFile, imageFile, maskFile, regionText) = (r.GetValue(tokens), r.GetValue(image), r.GetValue(mask), r.GetValue(region));
            if ((tokenFile is null) == (imageFile is null)) throw new ArgumentException("give exactly one of --tokens IN.json and --in IMAGE");
            if ((maskFile is null) == (regionText is null)) throw new ArgumentException("give exactly one of --region R0:R1,C0:C1 and --mask MASK.png");
            if (maskFile is not null && imageFile is null) throw new ArgumentException("--mask is a pixel mask for --in IMAGE; with --tokens give --region");
            var outPath = r.GetValue(output)!;
            var toImage = !outPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
            if (toImage) CanvasRun.CheckImagePath(outPath);
            CanvasRun.CheckDirectories(outPath, r.GetValue(tokensOut));
            var vqganPath = r.GetValue(vqgan) ?? (imageFile is not null ? BundledModels.VqGan : null);
            if (toImage && vqganPath is null) throw new ArgumentException($"--out {outPath}: an image output needs --vqgan (or write OUT.json)");
            if (imageFile is not null) CommonOptions.RequireFile(imageFile, "--in");
            if (maskFile is not null) CommonOptions.RequireFile(maskFile, "--mask");
            var spec0 = canvas.Spec(r, (1, 1)); // flags checked before any model loads
            var (run, models) = priorFlags.Open(r, common, device);
            var info = models.Describe();
            using var decoder = TokenDecoder.Open(vqganPath, device, info.CodebookSize);
            var source = tokenFile is not null ? TokenGrid.Load(tokenFile, info.CodebookSize) : decoder!.EncodeFile(imageFile!, "--in");
            var regenerate = regionText is not null
                ? TokenRegion.Parse(regionText, source.H, source.W).Mask(source.H, source.W)
                : PixelMask(maskFile!, source, decoder!.Model.Downscale);
            var count = regenerate.Count(m => m);
            if (count == 0) throw new ArgumentException($"--mask {maskFile} has no white pixel: nothing to regenerate");
            var spec = spec0 with { Height = source.H, Width = source.W, Region = regionText ?? $"mask {ModelVersion.OfFile(maskFile!)}" };
            var options = (spec with { Region = null }).ToOptions(info.GridHeight, info.GridWidth);
            Console.WriteLine($"inpaint: {count} of {source.H * source.W} tokens of a {source.H}x{source.W} grid to regenerate over {options.Steps} steps");

            var sw = Stopwatch.StartNew();
            var result = run.Sample("inpaint", models, options, TokenMask.Apply(source.Tokens, regenerate, info.MaskId));
            var edited = new TokenGrid(source.H, source.W, result.Tokens);
            if (r.GetValue(tokensOut) is { } extra) edited.Save(extra);
            if (toImage)
            {
                // As ut generate and the grid decode: the same pixels as a job's image for the same tokens.
                var made = new ImageParameters(info.Version, ModelVersion.OfFile(vqganPath!), spec, Init: ModelVersion.OfFile(tokenFile ?? imageFile!));
                CanvasDecoder.DecodeToFile(decoder!.Model, edited.Tokens, edited.H, edited.W, outPath, device: device, parameters: made.ToJson());
            }
            else edited.Save(outPath);
            Console.WriteLine($"inpaint: {count} tokens regenerated in {sw.Elapsed.TotalSeconds:F1} s ({result.WindowPasses:N0} window passes) -> {outPath}");
            return 0;
        });
        return cmd;
    }

    /// <summary>The mask image's white pixels (channel mean >= 128) as tokens to regenerate, by any overlap.</summary>
    private static bool[] PixelMask(string path, TokenGrid source, int factor)
    {
        using var scope = NewDisposeScope();
        var rgb = Images.LoadRgb(path);
        var (h, w) = ((int)rgb.size(1), (int)rgb.size(2));
        if (h != source.H * factor || w != source.W * factor)
            throw new ArgumentException($"--mask {path} is {w}x{h} px but the image is {source.W * factor}x{source.H * factor}: give a mask of the image's size");
        var white = rgb.to(float32).mean(new long[] { 0 }).ge(128).contiguous().ToArray<bool>();
        return TokenMask.FromPixels(white, h, w, factor);
    }
}
