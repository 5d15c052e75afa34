using System.CommandLine;
using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut generate</c>: an image larger than the prior's window, from overlapping windows.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var flags = new GenerateFlags();
        var cmd = new Command("generate", "Generate an image larger than the training window from overlapping windows");
        flags.AddTo(cmd);
        common.AddTo(cmd);
        cmd.SetAction(r => Run(r, common, flags));
        return cmd;
    }

    /// <summary>generate's own flags beside the canvas's.</summary>
    private sealed class GenerateFlags
    {
        public readonly CanvasFlags Canvas = new();
        public readonly PriorFlags Prior = new();
        public readonly Option<string> VqGan = new("--vqgan") { Description = $"VQ-GAN checkpoint (vqgan_*.th; {BundledModels.DescribeVqGan})", DefaultValueFactory = _ => BundledModels.VqGan };
        public readonly Option<int> DecodeTile = new("--decode-tile") { DefaultValueFactory = _ => 0, Description = "decode in tiles of N tokens (0: whole up to 64x64, tiled above)" };
        public readonly Option<string> Output = new("--out")
        {
            Description = "image file: .png, .tif (tiled, pyramidal), .dzi (DeepZoom pyramid), .jpg, .webp",
            DefaultValueFactory = _ => "generated.png"
        };
        public readonly Option<string?> TokensOut = new("--tokens-out") { Description = "also write the token canvas (JSON)" };
        public readonly Option<bool> Force = new("--force") { Description = "start even when the canvas's image needs more memory than the machine has available" };
        public readonly Option<string?> Init = new("--init")
        {
            Description = "outpainting: an image (its sides multiples of the VQ-GAN's tokens) or a token file placed at --anchor; the rest is generated around it",
        };
        public readonly Option<string?> From = new("--from") { Description = "a PNG made by ut generate or a grid job: make it again from the parameters it carries (same models: same bytes)" };
        public readonly Option<string> Anchor = new("--anchor") { DefaultValueFactory = _ => "0,0", Description = "token row,column of --init's top-left corner on the canvas" };
        public readonly Option<bool> Whole = new("--whole") { Description = "with a nat prior: sample the whole canvas at once, one network pass a step, no windows" };
        public readonly Option<string?> Model = new("--model") { Description = "a model by name from --models' Models list (its prior, VQ-GAN, heads and precision), instead of --prior and --vqgan" };
        public readonly Option<string> Models = new("--models") { Description = "the silo configuration whose Models list --model names", DefaultValueFactory = _ => "silo.json" };

        /// <summary>The prior and VQ-GAN to generate with: --model's, or --prior's and --vqgan's.</summary>
        public ModelEntry Entry(ParseResult r)
        {
            if (r.GetValue(Model) is not { } name) return Prior.Entry(r, r.GetValue(VqGan)!);
            if (new Option[] { Prior.Prior, Prior.Heads, Prior.Precision, VqGan }.FirstOrDefault(o => r.GetResult(o) is { Implicit: false }) is { } given)
                throw new ArgumentException($"--model {name} names the prior and VQ-GAN: leave out {given.Name}");
            var models = Silo.SiloConfig.Load(r.GetValue(Models)!).Models;
            return models.FirstOrDefault(m => m.Name == name)?.Entry()
                ?? throw new ArgumentException($"--model {name}: {r.GetValue(Models)} lists {(models.Length == 0 ? "no models" : string.Join(", ", models.Select(m => m.Name)))}");
        }

        public void AddTo(Command c)
        {
            Prior.AddTo(c);
            c.Options.Add(VqGan);
            Canvas.AddTo(c);
            foreach (Option o in new Option[] { DecodeTile, Output, TokensOut, Force, Init, Anchor, From, Whole, Model, Models }) c.Options.Add(o);
        }
    }

    private static int Run(ParseResult r, CommonOptions common, GenerateFlags flags)
    {
        var device = common.Apply(r);
        // Everything a user can get wrong is checked before minutes of work start.
        var model = flags.Entry(r);
        CommonOptions.RequireFile(model.VqGan, model.Name.Length > 0 ? $"model {model.Name}'s VQ-GAN" : "--vqgan");
        var recorded = Recorded(r, flags);
        var spec = recorded?.Job ?? flags.Canvas.Spec(r);
        var decodeTile = recorded?.DecodeTile ?? r.GetValue(flags.DecodeTile);
        var outPath = r.GetValue(flags.Output)!;
        CanvasRun.CheckImagePath(outPath);
        CanvasRun.CheckDirectories(outPath, r.GetValue(flags.TokensOut));
        if (r.GetValue(flags.Init) is { } initFile) CommonOptions.RequireFile(initFile, "--init");
        var anchor = ParseAnchor(r.GetValue(flags.Anchor)!);
        if (decodeTile < 0) throw new ArgumentException($"--decode-tile {decodeTile}: expected 0 (automatic) or a tile size in tokens");
        var (run, replicaModels) = flags.Prior.Open(r, common, device, model);
        if (r.GetValue(flags.Whole)) return WholeCanvas.Run(r, flags.Canvas, model, spec, model.VqGan, outPath, r.GetValue(flags.TokensOut), decodeTile, device,
            new Option[] { flags.Init, flags.From, flags.Canvas.Window, flags.Canvas.Stride, flags.Canvas.Tiling, flags.Canvas.Aggregate, flags.Prior.Replicas });
        var info = replicaModels.Describe();
        var vqganVersion = ModelVersion.OfFile(model.VqGan);
        if (recorded is not null)
            foreach (var (what, made, given, path) in new[] { ("prior", recorded.Prior, info.Version, model.Prior), ("vqgan", recorded.VqGan, vqganVersion, model.VqGan) })
                if (made != given)
                    throw new ArgumentException($"{r.GetValue(flags.From)} was made with the {what} of version {made}, --{what} {path} is {given}: give the file it was made with");
        var options = spec.ToOptions(info.GridHeight, info.GridWidth);
        var (h, w) = (options.Height, options.Width);
        using var decoder = TokenDecoder.Open(model.VqGan, device, info.CodebookSize)!;
        var f = decoder.Model.Downscale;
        // The canvas's tokens while sampling, then the decode (a strip at a time above 64x64 tokens) and the
        // image's pixels on disk before encoding.
        var need = CanvasCoordinator.Bytes((long)h * w) + CanvasDecoder.PeakBytes(h, w, f, decodeTile);
        var available = MachineMemory.AvailableBytes();
        if (need > available && !r.GetValue(flags.Force))
            throw new ArgumentException($"--shape {h}x{w}: its canvas and {(long)w * f}x{(long)h * f}-pixel image need about {MachineMemory.Describe(need)} of memory, " +
                $"{MachineMemory.Describe(available)} is available: use a smaller --shape (or --force)");
        var disk = 3L * f * f * h * w;
        var free = new DriveInfo(Path.GetDirectoryName(Path.GetFullPath(outPath))!).AvailableFreeSpace;
        if (disk > free && !r.GetValue(flags.Force))
            throw new ArgumentException($"--shape {h}x{w}: its image needs about {MachineMemory.Describe(disk)} on disk while it is written, " +
                $"{MachineMemory.Describe(free)} is available where --out goes: use a smaller --shape or another --out (or --force)");
        long[]? initial = null;
        if (r.GetValue(flags.Init) is { } init)
        {
            var known = init.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? TokenGrid.Load(init, info.CodebookSize) : decoder.EncodeFile(init, "--init");
            initial = Place(known, anchor, h, w, info.MaskId);
        }
        // Said at once: a large canvas's first step alone can take minutes.
        var windows = (long)WindowCount(h, options.WindowHeight, options.StrideH) * WindowCount(w, options.WindowWidth, options.StrideW);
        Console.WriteLine($"generate: {h}x{w} tokens ({(long)w * f}x{(long)h * f} px, ~{MachineMemory.Describe(need)} to decode), {windows:N0} windows of " +
            $"{options.WindowHeight}x{options.WindowWidth}, up to {windows * options.Steps:N0} window passes over {options.Steps} steps");

        var sw = Stopwatch.StartNew();
        var canvas = run.Sample("generate", replicaModels, options, initial);
        var sampling = sw.Elapsed;
        if (r.GetValue(flags.TokensOut) is { } tokenFile) new TokenGrid(h, w, canvas.Tokens).Save(tokenFile);
        var initRecord = r.GetValue(flags.Init) is { } initPath ? $"{ModelVersion.OfFile(initPath)}@{anchor.row},{anchor.col}" : null;
        var parameters = new ImageParameters(info.Version, vqganVersion, spec, decodeTile, initRecord);
        CanvasDecoder.DecodeToFile(decoder.Model, canvas.Tokens, h, w, outPath, decodeTile, device: device, parameters: parameters.ToJson());
        Console.WriteLine($"generate: {h}x{w} tokens ({w * f}x{h * f} px) in {sw.Elapsed.TotalSeconds:F1} s " +
            $"(sampling {sampling.TotalSeconds:F1} s): {canvas.WindowPasses:N0} window passes over {canvas.Step} steps, " +
            $"{h * w / sampling.TotalSeconds:F1} tokens/s, {run.Replicas} replica(s) -> {outPath}");
        return 0;
    }

    /// <summary>With --from: the job a PNG records (the canvas flags, --init and --decode-tile then come from it).</summary>
    private static ImageParameters? Recorded(ParseResult r, GenerateFlags flags)
    {
        if (r.GetValue(flags.From) is not { } from) return null;
        CommonOptions.RequireFile(from, "--from");
        var given = flags.Canvas.Given(r) ?? new Option[] { flags.Init, flags.Anchor, flags.DecodeTile }.FirstOrDefault(o => r.GetResult(o) is { Implicit: false })?.Name;
        if (given is not null) throw new ArgumentException($"--from takes the job from {from}: leave out {given}");
        var text = ImageCodec.Text(from, ImageParameters.Chunk)
            ?? throw new ArgumentException($"--from {from}: the image carries no generation parameters (only PNGs written by ut generate or a grid job do)");
        return ImageParameters.Parse(text, from).Reproducible(from);
    }

    private static (int row, int col) ParseAnchor(string text)
    {
        var parts = text.Split(',');
        if (parts.Length == 2 && int.TryParse(parts[0], out var row) && int.TryParse(parts[1], out var col) && row >= 0 && col >= 0) return (row, col);
        throw new ArgumentException($"--anchor {text}: expected ROW,COL in tokens (e.g. 8,16), both >= 0");
    }

    /// <summary>An all-mask canvas with <paramref name="known"/> placed at the anchor.</summary>
    private static long[] Place(TokenGrid known, (int row, int col) anchor, int height, int width, int maskId)
    {
        if (anchor.row + known.H > height || anchor.col + known.W > width)
            throw new ArgumentException($"--init: its {known.H}x{known.W} tokens at --anchor {anchor.row},{anchor.col} do not fit the {height}x{width} canvas");
        var canvas = Enumerable.Repeat((long)maskId, height * width).ToArray();
        for (var r = 0; r < known.H; r++) Array.Copy(known.Tokens, r * known.W, canvas, (anchor.row + r) * width + anchor.col, known.W);
        return canvas;
    }

    private static int WindowCount(int size, int window, int stride) => (size - window + stride - 1) / stride + 1;
}
