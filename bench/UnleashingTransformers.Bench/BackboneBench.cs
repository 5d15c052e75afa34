using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// What the backbones cost at matched width and depth (random weights: time does not depend on them): one
/// forward pass over a batch of 16x16-token windows for each, and a canvas of 32x32 and 64x64 tokens sampled
/// with windows (the transformer, overlapping at stride 8, and shifted) against the NAT prior on the whole
/// canvas at once (one pass a step).
/// </summary>
internal static class BackboneBench
{
    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

    /// <summary>Median milliseconds of a forward pass over random ids below <paramref name="vocab"/>, at batch 1 and 8 (after a warm-up pass).</summary>
    internal static double[] ForwardMs(PriorNetwork net, int vocab, int length) => new[] { 1, 8 }.Select(b =>
    {
        using var inner = NewDisposeScope();
        using var _ = no_grad();
        var x = randint(0, vocab, new long[] { b, length });
        net.forward(x);
        var times = new List<double>();
        for (var rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            net.forward(x);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return Median(times);
    }).ToArray();

    public static int Run(bool forwardOnly)
    {
        using var scope = NewDisposeScope();
        var config = new TransformerConfig(CodebookSize: 1024, Emb: 256, Heads: 8, Layers: 8, BlockSize: 256);
        Console.WriteLine($"backbones: width {config.Emb}, {config.Heads} heads, {config.Layers} layers, 16x16-token windows, codebook {config.CodebookSize}; {get_num_threads()} threads");
        Console.WriteLine("| backbone | settings | parameters (M) | ms per forward, batch 1 | ms per forward, batch 8 |");
        Console.WriteLine("|---|---|---|---|---|");
        var networks = new (string name, string settings, PriorNetwork net)[]
        {
            ("transformer", "full attention, learned positions", new Transformer(config)),
            ("dit", "patch 1, adaLN-Zero", new Dit(new VitConfig(config, 16, 16))),
            ("dit", "patch 2", new Dit(new VitConfig(config, 16, 16, 2))),
            ("uvit", "patch 1, long skips", new Uvit(new VitConfig(config, 16, 16))),
            ("nat", "kernel 7, dilations 1,2", new Nat(new NatConfig(config, 16, 16))),
            ("nat", "the same, learned positions", new Nat(new NatConfig(config, 16, 16, Positions: NatPositions.Learned))),
            ("nat", "flat (NAT Diffuser): 1-D kernel 7, dilations 1,4,8,16", new Nat(new NatConfig(config, 16, 16, Layout: NatLayout.Flat))),
        };
        using var _ = no_grad();
        foreach (var (name, settings, net) in networks)
        {
            var parameters = net.parameters().Sum(p => p.numel()) / 1e6;
            var ms = ForwardMs(net, config.CodebookSize + 1, 256);
            Console.WriteLine($"| {name} | {settings} | {parameters:F1} | {ms[0]:F1} | {ms[1]:F1} |");
        }
        if (forwardOnly) return 0;

        Console.WriteLine();
        Console.WriteLine("canvas, Halton S = 32 (the same schedule everywhere), random weights of the table's size:");
        Console.WriteLine("| canvas | how | network passes | rows (windows or grids) run | seconds |");
        Console.WriteLine("|---|---|---|---|---|");
        var transformer = (Transformer)networks[0].net;
        using var inference = new TransformerInference(transformer);
        var windowed = new TransformerDenoiser(inference, Device.CPU);
        var nat = (Nat)networks[4].net;
        var schedule = ScheduleChoice.Parse("halton", "cosine", 4.5);
        foreach (var side in new[] { 32, 64 })
        {
            foreach (var tiling in new[] { TilingKind.Overlap, TilingKind.Shifted })
            {
                var pool = new InProcessWindowPool([windowed], 8);
                var options = new CanvasOptions(side, side, 16, 16, 8, 8, 32, TokenSampling.Plain(1), 0, AggregationKind.Gaussian, RevealOrder.Parallel, schedule, tiling);
                var canvas = new CanvasCoordinator(pool, options);
                var sw = Stopwatch.StartNew();
                canvas.RunAsync().GetAwaiter().GetResult();
                var seconds = sw.Elapsed.TotalSeconds;
                pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
                Console.WriteLine($"| {side}x{side} | transformer, 16x16 windows, {tiling.ToString().ToLowerInvariant()}{(tiling == TilingKind.Overlap ? " stride 8" : "")} | {canvas.Step} steps | " +
                    $"{canvas.WindowPasses:N0} windows | {seconds:F1} |");
            }
            {
                using var inner = NewDisposeScope();
                long passes = 0;
                var sw = Stopwatch.StartNew();
                new TokenSampler(nat.DenoiserFor(side, side, Device.CPU), new RevealStep(schedule.Create(32, side, side), TokenSampling.Plain(1)))
                    .Sample(1, 0, progress: p => passes = p.NetworkPasses);
                Console.WriteLine($"| {side}x{side} | nat, the whole canvas (--whole) | {passes} | {passes} grids of {side}x{side} | {sw.Elapsed.TotalSeconds:F1} |");
            }
        }
        foreach (var (_, _, net) in networks) net.Dispose();
        return 0;
    }
}
