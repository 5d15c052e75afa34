using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// The peers' priors against the paper's absorbing one: SUNDAE (speed at matched size with random weights, then
/// quality against steps with priors trained on the terrain latents) and NAT on a whole canvas against windows. SWD
/// against terrain world 0 as <see cref="ScheduleBench"/> measures it; every figure of a table from the same run.
/// </summary>
internal static class PeerPriorBench
{
    /// <summary>SUNDAE against the absorbing prior: forward cost and a finished 16x16 sample at matched width and depth
    /// (random weights), then single windows and 32x64 canvases of trained terrain priors.</summary>
    public static int Sundae(int threads, int count, int canvases, string models, string sundaePath)
    {
        set_num_threads(threads);
        using var scope = NewDisposeScope();
        var config = new TransformerConfig(CodebookSize: 1024, Emb: 256, Heads: 8, Layers: 8, BlockSize: 256);
        // The hourglass at the same width and 8 layers (2 + 4 on a quarter of the tokens + 2, and its two resampling
        // layers), 4 heads of 64: its attention as wide as the transformer's.
        var hourglassConfig = new HourglassConfig(config with { Heads = 4 }, 16, 16, 2, 4, 2);
        Console.WriteLine($"sundae: width {config.Emb}, 16x16 tokens, codebook {config.CodebookSize}, random weights; {get_num_threads()} threads");
        Console.WriteLine("| prior | network | parameters (M) | ms per forward, batch 1 | ms per forward, batch 8 | sampler | forward passes (rows) per sample | tokens/s, batch 8 |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        using (var transformer = new Transformer(config))
        using (var hourglass = new Hourglass(hourglassConfig))
        using (no_grad())
        {
            var rows = new (string prior, string network, PriorNetwork net, string sampler, ITokenStep step)[]
            {
                ("absorbing", "transformer, 8 layers", transformer, "reciprocal, S = 256", new RevealStep(new ReciprocalRevealSchedule(256), TokenSampling.Plain(1))),
                ("absorbing", "transformer, 8 layers", transformer, "halton, S = 32", new RevealStep(ScheduleChoice.Parse("halton", "cosine", 4.5).Create(32, 16, 16), TokenSampling.Plain(1))),
                ("sundae", "hourglass 2-4-2, k = 4", hourglass, "S = 100 (never stops: random weights)", new RefineStep(new RefineSchedule(), new TokenSampling(1.0, 0.7, 0, 1), 100)),
                ("sundae", "hourglass 2-4-2, k = 4", hourglass, "S = 32", new RefineStep(new RefineSchedule(), new TokenSampling(1.0, 0.7, 0, 1), 32)),
            };
            foreach (var (prior, network, net, sampler, step) in rows)
            {
                var parameters = net.parameters().Sum(p => p.numel()) / 1e6;
                var ms = BackboneBench.ForwardMs(net, config.CodebookSize, 256);
                var (denoiser, owned) = net.Denoiser(InferencePrecision.Float32, Device.CPU);
                using (owned)
                {
                    long passes = 0;
                    var clock = Stopwatch.StartNew();
                    new TokenSampler(denoiser, step).Sample(8, 0, batchSize: 8, progress: p => passes = p.NetworkPasses);
                    var seconds = clock.Elapsed.TotalSeconds;
                    Console.WriteLine($"| {prior} | {network} | {parameters:F1} | {ms[0]:F1} | {ms[1]:F1} | {sampler} | {passes} | {8 * 256 / seconds:F0} |");
                }
            }
        }

        // Trained on the terrain latents: single windows, then canvases.
        using var vqgan = VqGanCheckpoint.Load(Path.Combine(models, "vqgan_ema.th"), Device.CPU);
        var real = ScheduleBench.World(0, count);
        Tensor Decode(IEnumerable<long[]> grids) => stack(grids.Select(g => vqgan.decode(from_array<long>(g, 1, 8, 8))[0].clamp(0, 1)).ToList());
        var absorbingPath = Path.Combine(models, "absorbing_ema.th");
        Console.WriteLine();
        Console.WriteLine($"trained terrain priors (8x8 tokens, 64 px): {count} single-window samples a row, SWD x1e3 against {count} images of world 0");
        Console.WriteLine("| prior | sampler | S | temperature | forward passes (rows) per image | SWD mean | per level (64 / 32 / 16 px) | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Console.WriteLine($"| terrain world 1 (real vs real) | - | - | - | - | {ScheduleBench.Swd(ScheduleBench.World(1, count), real)} | - |");
        foreach (var (path, name) in new[] { (absorbingPath, "absorbing (bundled)"), (sundaePath, "sundae") })
        {
            using var prior = PriorCheckpoint.Load(path, null);
            var (network, owned) = prior.Denoiser(InferencePrecision.Float32, Device.CPU);
            using var _ = owned;
            var runs = prior._denoise_fn.Corruption == Corruption.Uniform
                ? new (string, int, TokenSampling)[] { ("refine", 8, new(1.0, 0.7, 0, 1)), ("refine", 16, new(1.0, 0.7, 0, 1)), ("refine", 32, new(1.0, 0.7, 0, 1)), ("refine", 100, new(1.0, 0.7, 0,
                    1)), ("refine", 100, TokenSampling.Plain(1.0)), ("refine", 100, TokenSampling.Plain(0.8)) }
                : [("reciprocal", 256, TokenSampling.Plain(1.0)), ("halton", 16, TokenSampling.Plain(1.0)), ("halton", 32, TokenSampling.Plain(1.0))];
            foreach (var (schedule, s, sampling) in runs)
            {
                using var inner = NewDisposeScope();
                var step = ScheduleChoice.Parse(schedule == "refine" ? "reciprocal" : schedule, "cosine", 4.5).Step(prior._denoise_fn.Corruption, sampling, s, 8, 8);
                var denoiser = new CountingDenoiser(network);
                var sw = Stopwatch.StartNew();
                var samples = new TokenSampler(denoiser, step).Sample(count, 1, batchSize: 16);
                var seconds = sw.Elapsed.TotalSeconds;
                var temperature = sampling.TemperatureEnd is { } end ? $"{sampling.Temperature}:{end}" : $"{sampling.Temperature}";
                Console.WriteLine($"| {name} | {schedule} | {s} | {temperature} | {(double)denoiser.Rows / count:F1} | {ScheduleBench.Swd(Decode(samples), real)} | {seconds:F1} |");
            }
        }

        var crops = canvases * 32;
        var realCrops = ScheduleBench.World(0, crops);
        Console.WriteLine();
        Console.WriteLine($"canvases: {canvases} of 32x64 tokens (8x8 windows) = {crops} crops of 64 px, against {crops} images of world 0");
        Console.WriteLine("| prior | sampler | S | tiling | temperature | steps run | window passes per canvas | SWD mean | per level (64 / 32 / 16 px) | seconds per canvas |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine($"| terrain world 1 (real vs real) | - | - | - | - | - | - | {ScheduleBench.Swd(ScheduleBench.World(1, crops), realCrops)} | - |");
        var canvasRuns = new (string path, string name, string schedule, int s, TilingKind tiling, TokenSampling sampling)[]
        {
            (absorbingPath, "absorbing (bundled)", "halton", 32, TilingKind.Shifted, TokenSampling.Plain(1.0)),
            (absorbingPath, "absorbing (bundled)", "halton", 32, TilingKind.Overlap, TokenSampling.Plain(1.0)),
            (sundaePath, "sundae", "refine", 8, TilingKind.Shifted, new(1.0, 0.7, 0, 1)),
            (sundaePath, "sundae", "refine", 8, TilingKind.Overlap, new(1.0, 0.7, 0, 1)),
            (sundaePath, "sundae", "refine", 32, TilingKind.Shifted, new(1.0, 0.7, 0, 1)),
            (sundaePath, "sundae", "refine", 100, TilingKind.Overlap, new(1.0, 0.7, 0, 1)),
        };
        foreach (var (path, name, schedule, s, tiling, sampling) in canvasRuns)
        {
            using var inner = NewDisposeScope();
            var choice = ScheduleChoice.Parse(schedule == "refine" ? "reciprocal" : schedule, "cosine", 4.5);
            var (images, passes, steps, seconds) = Canvases(path, vqgan, canvases, c => new CanvasOptions(32, 64, 8, 8, 4, 4, s, sampling, (ulong)c, AggregationKind.Gaussian, RevealOrder.Parallel,
                choice, tiling));
            var temperature = sampling.TemperatureEnd is { } end ? $"{sampling.Temperature}:{end}" : $"{sampling.Temperature}";
            Console.WriteLine($"| {name} | {schedule} | {s} | {tiling.ToString().ToLowerInvariant()} | {temperature} | {steps:F1} | {passes:F0} | {ScheduleBench.Swd(images, realCrops)} | " +
                $"{seconds:F1} |");
        }
        return 0;
    }

    /// <summary>NAT on the whole canvas (one pass a step over the canvas) against the same weights through 8x8 windows,
    /// trained on the terrain latents: SWD of 32x64 canvases' crops and time; then one 64x64 canvas timed both ways.</summary>
    public static int Whole(int threads, int canvases, string models, string natPath)
    {
        set_num_threads(threads);
        using var scope = NewDisposeScope();
        using var vqgan = VqGanCheckpoint.Load(Path.Combine(models, "vqgan_ema.th"), Device.CPU);
        using var prior = PriorCheckpoint.Load(natPath, null);
        var nat = prior._denoise_fn as Nat ?? throw new ArgumentException($"{natPath} is not a nat prior");
        var halton = ScheduleChoice.Parse("halton", "cosine", 4.5);
        var crops = canvases * 32;
        var realCrops = ScheduleBench.World(0, crops);
        Console.WriteLine($"whole: nat prior {natPath} (layout {nat.Settings.Layout}, positions {nat.Settings.HeadPositions}, kernel {nat.Settings.Kernel}, " +
            $"dilations {string.Join(",", nat.Settings.HeadDilations)}), Halton S = 32, temp 1.0; {get_num_threads()} threads");
        Console.WriteLine($"| canvas | how | network passes per canvas | SWD mean ({crops} crops of 64 px against world 0) | per level (64 / 32 / 16 px) | seconds per canvas |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine($"| - | terrain world 1 (real vs real) | - | {ScheduleBench.Swd(ScheduleBench.World(1, crops), realCrops)} | - |");
        foreach (var (h, w, n, swd) in new[] { (32, 64, canvases, true), (64, 64, 1, false) })
        {
            foreach (var tiling in new[] { TilingKind.Shifted, TilingKind.Overlap })
            {
                using var inner = NewDisposeScope();
                var (images, passes, _, seconds) = Canvases(natPath, vqgan, n, c => new CanvasOptions(h, w, 8, 8, 4, 4, 32, TokenSampling.Plain(1.0), (ulong)c, AggregationKind.Gaussian,
                    RevealOrder.Parallel, halton, tiling));
                Console.WriteLine($"| {h}x{w} | 8x8 windows, {tiling.ToString().ToLowerInvariant()}{(tiling == TilingKind.Overlap ? " stride 4, gaussian" : "")} | {passes:F0} windows | " +
                    $"{(swd ? ScheduleBench.Swd(images, realCrops) : "- | -")} | {seconds:F1} |");
            }
            if (!nat.Settings.AnyGrid)
            {
                Console.WriteLine($"| {h}x{w} | the whole canvas (--whole) | not possible: bound to its {nat.Settings.GridHeight}x{nat.Settings.GridWidth} window | - | - | - |");
                continue;
            }
            {
                using var inner = NewDisposeScope();
                var denoiser = new CountingDenoiser(nat.DenoiserFor(h, w, Device.CPU));
                var images = new List<Tensor>();
                var sw = Stopwatch.StartNew();
                for (var c = 0; c < n; c++)
                {
                    var tokens = new TokenSampler(denoiser, new RevealStep(halton.Create(32, h, w), TokenSampling.Plain(1.0))).Sample(1, (ulong)c)[0];
                    images.AddRange(ScheduleBench.Crops(vqgan, tokens, h, w));
                }
                var seconds = sw.Elapsed.TotalSeconds / n;
                Console.WriteLine($"| {h}x{w} | the whole canvas (--whole) | {(double)denoiser.Rows / n:F0} grids of {h}x{w} | {(swd ? ScheduleBench.Swd(stack(images), realCrops) : "- | -")} | " +
                    $"{seconds:F1} |");
            }
        }
        return 0;
    }

    /// <summary>A denoiser that counts the rows (sequences) it runs: a self-stopping sampler's batches end at different steps.</summary>
    private sealed class CountingDenoiser(ITokenDenoiser inner) : ITokenDenoiser
    {
        public long Rows { get; private set; }
        public int Length => inner.Length;
        public int CodebookSize => inner.CodebookSize;
        public int MaskId => inner.MaskId;
        public Corruption Corruption => inner.Corruption;

        public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
        {
            Rows += rows;
            return inner.Probabilities(tokens, rows, wanted);
        }
    }

    /// <summary>Canvases of a prior file through the embedded grid's pool, cut into 64-px crops; window passes and steps per canvas.</summary>
    private static (Tensor crops, double passes, double steps, double seconds) Canvases(string priorPath, VqAutoEncoder vqgan, int canvases, Func<int, CanvasOptions> options)
    {
        var replica = new PriorReplicas(priorPath, null, Device.CPU, InferencePrecision.Float32).Load();
        try
        {
            var images = new List<Tensor>();
            long passes = 0, steps = 0;
            var sw = Stopwatch.StartNew();
            for (var c = 0; c < canvases; c++)
            {
                var pool = new InProcessWindowPool([replica.Denoiser], 8);
                var o = options(c);
                var canvas = new CanvasCoordinator(pool, o);
                canvas.RunAsync().GetAwaiter().GetResult();
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                (passes, steps) = (passes + canvas.WindowPasses, steps + canvas.Step);
                images.AddRange(ScheduleBench.Crops(vqgan, canvas.Tokens, o.Height, o.Width));
            }
            return (stack(images), (double)passes / canvases, (double)steps / canvases, sw.Elapsed.TotalSeconds / canvases);
        }
        finally
        {
            replica.Owner?.Dispose();
        }
    }
}
