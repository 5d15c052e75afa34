using System.CommandLine;
using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Grid.Window;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut generate</c>: an image larger than the prior's window, from overlapping windows.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var prior = new Option<string>("--prior") { Description = $"prior checkpoint (absorbing_*.th; {BundledModels.DescribePrior})", DefaultValueFactory = _ => BundledModels.Prior };
        var heads = CommonOptions.PriorHeads();
        var vqgan = new Option<string>("--vqgan") { Description = $"VQ-GAN checkpoint (vqgan_*.th; {BundledModels.DescribeVqGan})", DefaultValueFactory = _ => BundledModels.VqGan };
        var shape = new Option<string>("--shape") { Description = "canvas in tokens, HxW", DefaultValueFactory = _ => "32x64" };
        var window = new Option<string?>("--window") { Description = "window in tokens, N or HxW (default: the prior's grid)" };
        var stride = new Option<int?>("--stride") { Description = "window stride in tokens (default: half a window; 1 in raster order)" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 256, Description = "steps of the parallel order" };
        var temp = new Option<double>("--temp") { DefaultValueFactory = _ => 0.8, Description = "temperature (the reference's big samples use 0.8)" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var aggregate = new Option<string>("--aggregate") { DefaultValueFactory = _ => "mean", Description = "mean (reference), gaussian or poe" };
        var order = new Option<string>("--order") { DefaultValueFactory = _ => "parallel", Description = "parallel (1/t law, many tokens a step) or raster (reference: one a step)" };
        var replicas = new Option<int>("--replicas") { DefaultValueFactory = _ => 1, Description = "model replicas serving window passes" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8, Description = "max windows per replica pass" };
        var precision = new Option<InferencePrecision>("--precision") { DefaultValueFactory = _ => InferencePrecision.Float32 };
        var decodeTile = new Option<int>("--decode-tile") { DefaultValueFactory = _ => 0, Description = "decode in tiles of N tokens (0: whole up to 64x64, tiled above)" };
        var output = new Option<string>("--out") { Description = "image file (.png, .jpg, .webp)", DefaultValueFactory = _ => "generated.png" };
        var tokensOut = new Option<string?>("--tokens-out") { Description = "also write the token canvas (JSON)" };
        var force = new Option<bool>("--force") { Description = "start even when the canvas's image needs more memory than the machine has available" };
        var cmd = new Command("generate", "Generate an image larger than the training window from overlapping windows")
        {
            prior, heads, vqgan, shape, window, stride, steps, temp, seed, aggregate, order, replicas, batch, precision, decodeTile, output, tokensOut, force,
        };
        common.AddTo(cmd);
        cmd.SetAction(r => Run(r, common, prior, heads, vqgan, shape, window, stride, steps, temp, seed, aggregate, order, replicas, batch, precision, decodeTile, output, tokensOut, force));
        return cmd;
    }

    private static int Run(ParseResult r, CommonOptions common, Option<string> prior, Option<int?> heads, Option<string> vqgan, Option<string> shape,
        Option<string?> window, Option<int?> stride, Option<int> steps, Option<double> temp, Option<ulong> seed, Option<string> aggregate,
        Option<string> order, Option<int> replicas, Option<int> batch, Option<InferencePrecision> precision, Option<int> decodeTile,
        Option<string> output, Option<string?> tokensOut, Option<bool> force)
    {
        var device = common.Apply(r);
        // Everything a user can get wrong is checked before minutes of work start.
        CommonOptions.RequireFile(r.GetValue(prior), "--prior");
        CommonOptions.RequireFile(r.GetValue(vqgan), "--vqgan");
        var spec = Spec(r, shape, window, stride, steps, temp, seed, aggregate, order);
        var outPath = r.GetValue(output)!;
        if (!new[] { ".png", ".jpg", ".jpeg", ".webp" }.Contains(Path.GetExtension(outPath).ToLowerInvariant()))
            throw new ArgumentException($"--out {outPath}: unknown image format (use .png, .jpg or .webp)");
        foreach (var file in new[] { outPath, r.GetValue(tokensOut) }.OfType<string>())
            if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } dir && !Directory.Exists(dir))
                throw new ArgumentException($"{file}: directory {dir} does not exist");
        var n = r.GetValue(replicas);
        if (n < 1) throw new ArgumentException("--replicas must be >= 1");
        if (r.GetValue(decodeTile) < 0) throw new ArgumentException($"--decode-tile {r.GetValue(decodeTile)}: expected 0 (automatic) or a tile size in tokens");
        // Replicas share the cores: unless told, each gets its share (BLAS pools included).
        if (n > 1 && r.GetValue(common.Threads) == 0)
        {
            Torch.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / n));
            Torch.torch.set_blas_threads(Math.Max(1, Environment.ProcessorCount / n));
        }
        if (Bf16Support.Warning(r.GetValue(precision), device) is { } slow) Console.Error.WriteLine($"ut: {slow}");
        using var telemetry = GridOptions.TelemetryFromEnvironment("ut-generate");

        var replicaModels = new PriorReplicas(r.GetValue(prior)!, r.GetValue(heads), device, r.GetValue(precision));
        var info = replicaModels.Describe();
        var options = spec.ToOptions(info.GridHeight, info.GridWidth);
        var (h, w) = (options.Height, options.Width);
        var local = new List<ReplicaModel>();
        try
        {
            using var decoder = TokenDecoder.Open(r.GetValue(vqgan), device, info.CodebookSize)!;
            var f = decoder.Model.Downscale;
            var need = CanvasDecoder.PeakBytes(h, w, f);
            var available = MachineMemory.AvailableBytes();
            if (need > available && !r.GetValue(force))
                throw new ArgumentException($"--shape {h}x{w}: its {(long)w * f}x{(long)h * f}-pixel image needs about {MachineMemory.Describe(need)} to decode, " +
                    $"{MachineMemory.Describe(available)} is available: use a smaller --shape (or --force)");
            // Said at once: a large canvas's first step alone can take minutes.
            var windows = (long)WindowCount(h, options.WindowHeight, options.StrideH) * WindowCount(w, options.WindowWidth, options.StrideW);
            Console.WriteLine($"generate: {h}x{w} tokens ({(long)w * f}x{(long)h * f} px, ~{MachineMemory.Describe(need)} to decode), {windows:N0} windows of " +
                $"{options.WindowHeight}x{options.WindowWidth}, up to {windows * options.Steps:N0} window passes over {options.Steps} steps");
            for (var i = 0; i < n; i++) local.Add(replicaModels.Load());
            IWindowPool pool = new InProcessWindowPool(local.Select(m => m.Denoiser).ToList(), r.GetValue(batch));

            var sw = Stopwatch.StartNew();
            CanvasCoordinator canvas;
            try
            {
                canvas = new CanvasCoordinator(pool, options);
                using var job = GridTelemetry.Source.StartActivity("canvas.job");
                ConsoleProgress.Run("generate", canvas.Steps, report =>
                    canvas.RunAsync(p => report(p.Step, $"{p.Revealed}/{p.Total} tokens, {p.WindowPasses} window passes")).GetAwaiter().GetResult());
            }
            finally
            {
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            var sampling = sw.Elapsed;
            if (r.GetValue(tokensOut) is { } tokenFile) new TokenGrid(h, w, canvas.Tokens).Save(tokenFile);
            using (var image = CanvasDecoder.Decode(decoder.Model, canvas.Tokens, h, w, r.GetValue(decodeTile), device: device))
                Images.Save(image, outPath);
            Console.WriteLine($"generate: {h}x{w} tokens ({w * f}x{h * f} px) in {sw.Elapsed.TotalSeconds:F1} s " +
                $"(sampling {sampling.TotalSeconds:F1} s): {canvas.WindowPasses:N0} window passes over {canvas.Step} steps, " +
                $"{h * w / sampling.TotalSeconds:F1} tokens/s, {n} replica(s) -> {outPath}");
            return 0;
        }
        finally
        {
            foreach (var m in local) m.Owner?.Dispose();
        }
    }

    private static int WindowCount(int size, int window, int stride) => (size - window + stride - 1) / stride + 1;

    /// <summary>The job the canvas flags describe (shared with <c>ut submit</c>).</summary>
    internal static CanvasJobSpec Spec(ParseResult r, Option<string> shape, Option<string?> window, Option<int?> stride, Option<int> steps,
        Option<double> temp, Option<ulong> seed, Option<string> aggregate, Option<string> order)
    {
        var (h, w) = PriorCheckpoint.ParseGrid(r.GetValue(shape)!, "--shape");
        int? wh = null, ww = null;
        if (r.GetValue(window) is { } win)
            (wh, ww) = win.Contains('x') ? PriorCheckpoint.ParseGrid(win, "--window") : PriorCheckpoint.ParseGrid($"{win}x{win}", "--window");
        return new CanvasJobSpec
        {
            Height = h, Width = w, WindowHeight = wh, WindowWidth = ww, Stride = r.GetValue(stride), Steps = r.GetValue(steps),
            Temperature = r.GetValue(temp), Seed = r.GetValue(seed), Aggregate = r.GetValue(aggregate)!, Order = r.GetValue(order)!,
        };
    }
}
