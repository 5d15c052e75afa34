using System.Diagnostics;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// What batch invariance costs: a replica's batch of windows run each in a pass of its own
/// (<see cref="WindowBatch.Run"/>, what replicas do) against all windows stacked in one pass (faster where a
/// device wants large products, but a window's bits then depend on its batch), for the bundled prior and a
/// reference-size one, at batches of 1, 3 and 8 windows with 1 and 8 wanted positions each.
/// </summary>
internal static class BatchingBench
{
    public static int Run(int threads)
    {
        set_num_threads(threads);
        Console.WriteLine($"(threads {threads}) ms per batch, median of the reps; 'stacked' is the batched pass replicas no longer run");
        Console.WriteLine();
        Console.WriteLine("| prior | windows | wanted a window | separate passes (ms) | stacked (ms) | separate / stacked |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var bundled = new PriorReplicas(Path.Combine(ScheduleBench.Bundled, "absorbing_ema.th"), null, Device.CPU, InferencePrecision.Float32).Load();
        Measure("bundled (128 wide, 4 layers, 64 tokens)", bundled.Denoiser, 40);
        bundled.Owner?.Dispose();
        manual_seed(0);
        using var reference = new AbsorbingDiffusion(new TransformerConfig());
        reference.eval();
        using var inference = new TransformerInference(reference.TransformerBackbone);
        Measure("reference size (512 wide, 24 layers, 256 tokens)", new TransformerDenoiser(inference, Device.CPU), 3);
        return 0;
    }

    private static void Measure(string name, ITokenDenoiser d, int reps)
    {
        var random = new Random(1);
        foreach (var windows in new[] { 1, 3, 8 })
            foreach (var wanted in new[] { 1, 8 })
            {
                var requests = Enumerable.Range(0, windows).Select(i => new WindowRequest(i, i,
                    Enumerable.Range(0, d.Length).Select(_ => random.NextDouble() < 0.5 ? d.MaskId : (long)random.Next(d.CodebookSize)).ToArray(),
                    Enumerable.Range(0, d.Length).OrderBy(_ => random.Next()).Take(wanted).Order().ToArray())).ToList();
                double Time(Action pass)
                {
                    pass();
                    var times = new List<double>();
                    for (var r = 0; r < reps; r++)
                    {
                        var sw = Stopwatch.StartNew();
                        pass();
                        times.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    return times.Order().ElementAt(times.Count / 2);
                }
                var separate = Time(() => WindowBatch.Run(d, requests, out _));
                var stacked = Time(() => Stacked(d, requests));
                Console.WriteLine($"| {name} | {windows} | {wanted} | {separate:F2} | {stacked:F2} | {separate / stacked:F2} |");
            }
    }

    private static float[] Stacked(ITokenDenoiser d, List<WindowRequest> requests)
    {
        var tokens = new long[requests.Count * d.Length];
        var wanted = new List<WantedPosition>();
        for (var i = 0; i < requests.Count; i++)
        {
            requests[i].Tokens.CopyTo(tokens, i * d.Length);
            foreach (var p in requests[i].Positions) wanted.Add(new WantedPosition(i, p));
        }
        return d.Probabilities(tokens, requests.Count, wanted);
    }
}
