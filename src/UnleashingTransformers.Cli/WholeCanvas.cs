using System.CommandLine;
using System.Diagnostics;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary>
/// <c>ut generate --whole</c>: a neighborhood-attention prior runs on a grid of any size, so the canvas is sampled
/// as one sequence, one network pass a step, with the plain sampler: no windows, no aggregation.
/// </summary>
internal static class WholeCanvas
{
    public static int Run(ParseResult r, CanvasFlags canvas, ModelEntry prior, CanvasJobSpec spec, string vqganPath, string outPath, string? tokensOut,
        int decodeTile, Device device, Option[] windowed)
    {
        if (windowed.FirstOrDefault(o => r.GetResult(o) is { Implicit: false }) is { } given)
            throw new ArgumentException($"--whole samples the canvas as one grid: leave out {given.Name}");
        if (spec.Order != "parallel") throw new ArgumentException("--whole takes the parallel order");
        var (h, w) = (spec.Height, spec.Width);
        using var model = PriorCheckpoint.Load(prior.Prior, prior.Heads, device);
        if (model._denoise_fn is not Nat nat)
            throw new ArgumentException($"--whole needs a nat prior (ut train-prior --model nat): {prior.Prior} is a {model._denoise_fn.Backbone.Name} prior, bound to its window");
        if (!nat.Settings.AnyGrid)
            throw new ArgumentException($"--whole needs a nat prior on the grid layout without learned positions (train-prior --positions none): {prior.Prior} " +
                $"{(nat.Settings.Layout == NatLayout.Flat ? "attends along its flattened" : "learned positions on its")} {nat.Settings.GridHeight}x{nat.Settings.GridWidth} window, bound to it");
        var sampling = new TokenSampling(spec.Temperature, spec.TemperatureEnd, spec.TopK, spec.TopP).Checked();
        var schedule = ScheduleChoice.Parse(JobPresets.ScheduleOf(spec), spec.MaskSchedule, spec.ChoiceTemperature).Create(spec.Steps, h, w);
        foreach (var d in nat.Settings.HeadDilations) Neighborhoods.Of(h, w, nat.Settings.Kernel, d).Dispose();   // the canvas fits the neighbourhoods
        var denoiser = nat.DenoiserFor(h, w, device);
        using var decoder = TokenDecoder.Open(vqganPath, device, model.Config.CodebookSize)!;
        var f = decoder.Model.Downscale;
        Console.WriteLine($"generate: {h}x{w} tokens ({(long)w * f}x{(long)h * f} px) as one grid with the nat prior, {schedule.Steps} steps");

        var sw = Stopwatch.StartNew();
        long passes = 0;
        long[] tokens = [];
        ConsoleProgress.Run("generate", schedule.Steps, report =>
            tokens = new TokenSampler(denoiser, new RevealStep(schedule, sampling)).Sample(1, spec.Seed, progress: p =>
            {
                passes = p.NetworkPasses;
                report(p.Step, $"{p.Revealed}/{p.Total} tokens, {p.NetworkPasses} passes");
            })[0]);
        var sampled = sw.Elapsed;
        if (tokensOut is not null) new TokenGrid(h, w, tokens).Save(tokensOut);
        CanvasDecoder.DecodeToFile(decoder.Model, tokens, h, w, outPath, decodeTile, device: device);
        Console.WriteLine($"generate: {h}x{w} tokens ({w * f}x{h * f} px) in {sw.Elapsed.TotalSeconds:F1} s (sampling {sampled.TotalSeconds:F1} s): " +
            $"{passes} network passes over the whole grid -> {outPath}");
        return 0;
    }
}
