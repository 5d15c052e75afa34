using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Evaluation;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Quality against cost of the reveal schedules on the bundled terrain model: sliced Wasserstein distance
/// (Karras et al.; lower is closer) of 64-px images against terrain world 0, beside the forward passes
/// each took, for single-window samples at S = 8..256 and for 32x64-token canvases cut into 64-px crops.
/// Baselines in the same table: another terrain world (real vs real) and the VQ-GAN's reconstructions.
/// </summary>
internal static class ScheduleBench
{
    public static readonly string Bundled = Path.Combine(AppContext.BaseDirectory, "models", "terrain");

    /// <summary>One canvas configuration of the table.</summary>
    private sealed record CanvasRun(string Schedule, int Steps, TilingKind Tiling, AggregationKind Aggregation = AggregationKind.Gaussian, int Stride = 4);

    // The README's command first (reciprocal, S = 256, overlapping windows, stride 4, gaussian), then what
    // changes one thing at a time: aggregation, stride, tiling, schedule and S.
    private static readonly CanvasRun[] CanvasRuns =
    [
        new("reciprocal", 256, TilingKind.Overlap),
        new("reciprocal", 256, TilingKind.Overlap, AggregationKind.Mean),
        new("reciprocal", 256, TilingKind.Overlap, AggregationKind.ProductOfExperts),
        new("reciprocal", 256, TilingKind.Overlap, Stride: 2),
        new("reciprocal", 256, TilingKind.Overlap, Stride: 6),
        new("reciprocal", 256, TilingKind.Shifted),
        new("reciprocal", 32, TilingKind.Overlap),
        new("reciprocal", 32, TilingKind.Shifted),
        new("confidence", 16, TilingKind.Overlap),
        new("confidence", 16, TilingKind.Shifted),
        new("halton", 16, TilingKind.Overlap),
        new("halton", 16, TilingKind.Shifted),
        new("halton", 32, TilingKind.Overlap),
        new("halton", 32, TilingKind.Shifted),
    ];

    /// <summary>The first <paramref name="n"/> 64-px maps of terrain world <paramref name="seed"/>.</summary>
    internal static Tensor World(ulong seed, int n) => stack(Enumerable.Range(0, n).Select(i => TerrainMaps.Render(seed, i, 64)).ToList());

    /// <summary>A token canvas decoded and cut into the 64-px crops of its 8x8-token windows, row by row.</summary>
    internal static IEnumerable<Tensor> Crops(VqAutoEncoder vqgan, long[] tokens, int height, int width)
    {
        var image = CanvasDecoder.Decode(vqgan, tokens, height, width).clamp(0, 1);
        for (var y = 0; y < height / 8; y++)
            for (var x = 0; x < width / 8; x++) yield return image.narrow(1, y * 64, 64).narrow(2, x * 64, 64);
    }

    /// <summary>"mean | per level" of the SWD of <paramref name="images"/> against <paramref name="against"/>, for a table row.</summary>
    internal static string Swd(Tensor images, Tensor against)
    {
        var levels = SlicedWasserstein.Distance(images, against);
        return $"{levels.Average(),6:F1} | {string.Join(" / ", levels.Select(l => l.ToString("F0")))}";
    }

    /// <summary>Only the baselines: real vs real and the VQ-GAN's reconstructions (a VQ-GAN checkpoint measured while it trains).</summary>
    public static int Reconstructions(int count, string vqganPath)
    {
        using var scope = NewDisposeScope();
        using var vqgan = VqGanCheckpoint.Load(vqganPath, Device.CPU);
        var real = World(0, count);
        var side = (long)(64 / vqgan.Downscale);
        using var noGrad = no_grad();
        var tokens = vqgan.encode(real).reshape(count, side, side);
        var recon = vqgan.decode(tokens).clamp(0, 1);
        var used = tokens.flatten().ToArray<long>().Distinct().Count();
        Console.WriteLine($"| images against {count} of terrain world 0 | SWD mean | per level (64 / 32 / 16 px) | L1 | codes used |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine($"| terrain world 1 (real vs real) | {Swd(World(1, count), real)} | - | - |");
        Console.WriteLine($"| reconstructions by {Path.GetFileName(vqganPath)} | {Swd(recon, real)} | {(recon - real).abs().mean().item<double>():F4} | {used} |");
        return 0;
    }

    public static int Run(int count, int canvases, string models)
    {
        using var scope = NewDisposeScope();
        using var prior = PriorCheckpoint.Load(Path.Combine(models, "absorbing_ema.th"), null);
        prior.eval();
        using var vqgan = VqGanCheckpoint.Load(Path.Combine(models, "vqgan_ema.th"), Device.CPU);
        var (denoiser, inference) = prior.Denoiser(InferencePrecision.Float32, Device.CPU);
        using var _ = inference;
        var real = World(0, count);
        Tensor Decode(IEnumerable<long[]> grids) => stack(grids.Select(g => vqgan.decode(from_array<long>(g, 1, 8, 8))[0].clamp(0, 1)).ToList());

        Console.WriteLine($"schedules: bundled terrain prior (8x8 tokens, 64 px), {count} images a row, SWD x1e3 against {count} images of terrain world 0");
        Console.WriteLine("| images | schedule | S | forward passes (rows) per image | SWD mean | per level (64 / 32 / 16 px) | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Console.WriteLine($"| terrain world 1 (real vs real) | - | - | - | {Swd(World(1, count), real)} | - |");
        var tokens = vqgan.encode(real).reshape(count, 8, 8);
        Console.WriteLine($"| VQ-GAN reconstructions of world 0 | - | - | - | {Swd(vqgan.decode(tokens).clamp(0, 1), real)} | - |");
        foreach (var (name, steps) in new[] { ("reciprocal", new[] { 8, 16, 32, 64, 128, 256 }), ("confidence", new[] { 8, 16, 32, 64 }), ("halton", new[] { 8, 16, 32, 64 }) })
            foreach (var s in steps)
            {
                using var inner = NewDisposeScope();
                long rows = 0;
                var sw = Stopwatch.StartNew();
                var schedule = ScheduleChoice.Parse(name, "cosine", 4.5).Create(s, 8, 8);
                var samples = new TokenSampler(denoiser, new RevealStep(schedule, TokenSampling.Plain(1.0)))
                    .Sample(count, 1, batchSize: 16, progress: p => { if (p.Step == p.Steps) rows += p.NetworkRows; });
                var seconds = sw.Elapsed.TotalSeconds;
                Console.WriteLine($"| single window | {name} | {s} | {(double)rows / count:F1} | {Swd(Decode(samples), real)} | {seconds:F1} |");
            }

        // Canvases: the README's 32x64 job, cut into 32 crops of 64 px each.
        var crops = canvases * 32;
        var realCrops = World(0, crops);
        Console.WriteLine();
        Console.WriteLine($"canvases: {canvases} of 32x64 tokens (8x8 windows, temp 0.6) = {crops} crops of 64 px, against {crops} images of world 0");
        Console.WriteLine("| schedule | S | tiling | aggregation | stride | window passes per canvas | SWD mean | per level (64 / 32 / 16 px) | seconds per canvas |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine($"| terrain world 1 (real vs real) | - | - | - | - | - | {Swd(World(1, crops), realCrops)} | - |");
        var replicas = new PriorReplicas(Path.Combine(models, "absorbing_ema.th"), null, Device.CPU, InferencePrecision.Float32);
        var replica = replicas.Load();
        try
        {
            foreach (var (name, s, tiling, aggregation, stride) in CanvasRuns)
            {
                using var inner = NewDisposeScope();
                var images = new List<Tensor>();
                long passes = 0;
                var sw = Stopwatch.StartNew();
                for (var c = 0; c < canvases; c++)
                {
                    var pool = new InProcessWindowPool([replica.Denoiser], 8);
                    var options = new CanvasOptions(32, 64, 8, 8, stride, stride, s, TokenSampling.Plain(0.6), (ulong)c, aggregation, RevealOrder.Parallel,
                        ScheduleChoice.Parse(name, "cosine", 4.5), tiling);
                    var canvas = new CanvasCoordinator(pool, options);
                    canvas.RunAsync().GetAwaiter().GetResult();
                    pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    passes += canvas.WindowPasses;
                    images.AddRange(Crops(vqgan, canvas.Tokens, 32, 64));
                }
                var seconds = sw.Elapsed.TotalSeconds / canvases;
                Console.WriteLine($"| {name} | {s} | {tiling.ToString().ToLowerInvariant()} | {aggregation.ToString().ToLowerInvariant()} | " +
                    $"{(tiling == TilingKind.Shifted ? "-" : stride.ToString())} | {(double)passes / canvases:F0} | {Swd(stack(images), realCrops)} | {seconds:F1} |");
            }
        }
        finally
        {
            replica.Owner?.Dispose();
        }
        return 0;
    }
}
