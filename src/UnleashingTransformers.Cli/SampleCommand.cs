using System.CommandLine;
using System.Diagnostics;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut sample</c>: token grids of the prior's training size from a trained prior.</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var prior = new Option<string>("--prior")
        {
            Description = $"prior checkpoint (absorbing_*.th, reference format; {BundledModels.DescribePrior})",
            DefaultValueFactory = _ => BundledModels.Prior
        };
        var heads = CommonOptions.PriorHeads();
        var grid = new Option<string?>("--grid") { Description = "token grid HxW (default: square)" };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 256, Description = "sampling steps S" };
        var temp = SamplingFlags.Temperature(1.0, "temperature");
        var samplingFlags = new SamplingFlags("reciprocal");
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var outDir = new Option<string>("--out") { Description = "output directory", Required = true };
        var vqgan = new Option<string?>("--vqgan") { Description = "VQ-GAN checkpoint: also write PNGs" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8, Description = "sequences per network pass" };
        var precision = new Option<InferencePrecision>("--precision") { DefaultValueFactory = _ => InferencePrecision.Float32, Description = "Float32 or BFloat16 matrix products" };
        var sampler = new Option<string>("--sampler")
        {
            DefaultValueFactory = _ => "diffusion",
            Description = "diffusion (the prior's own: the paper's with --schedule, or for a sundae prior SUNDAE's with --proportion and --min-steps), mlm, tau-leaping or pc-tau-leaping " +
                "(continuous-time: leaps of 1/S, then a greedy step)"
        };
        var correctors = new Option<int>("--corrector-steps") { DefaultValueFactory = _ => 1, Description = "pc-tau-leaping: corrector leaps after each predictor leap (one network pass each)" };
        var cmd = new Command("sample", "Sample token grids (and images, with --vqgan) from a prior")
        {
            prior, heads, grid, count, steps, temp, seed, outDir, vqgan, batch, precision, sampler, correctors,
        };
        samplingFlags.AddTo(cmd);
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            CommonOptions.RequireFile(r.GetValue(prior), "--prior");
            var (n, s, b) = (r.GetValue(count), r.GetValue(steps), r.GetValue(batch));
            if (n < 1 || s < 1 || b < 1) throw new ArgumentException("--count, --steps and --batch must be >= 1");
            var tokenSampling = samplingFlags.Sampling(r, temp);
            var choice = samplingFlags.Choice(r);
            var kind = r.GetValue(sampler);
            if (kind is not ("diffusion" or "mlm" or "tau-leaping" or "pc-tau-leaping")) throw new ArgumentException($"--sampler {kind}: expected diffusion, mlm, tau-leaping or pc-tau-leaping");
            if (kind is "tau-leaping" or "pc-tau-leaping")
            {
                if (choice.Kind is not (ScheduleKind.Reciprocal or ScheduleKind.TauLeaping))
                    throw new ArgumentException($"--sampler {kind} reveals by its own rates: leave out --schedule (or use --sampler diffusion with --schedule {r.GetValue(samplingFlags.Schedule)})");
                choice = choice with { Kind = ScheduleKind.TauLeaping };
            }
            if (r.GetValue(correctors) < 0) throw new ArgumentException("--corrector-steps must be >= 0");
            if (kind == "mlm" && (choice.Kind != ScheduleKind.Reciprocal || tokenSampling != TokenSampling.Plain(tokenSampling.Temperature)))
                throw new ArgumentException("--sampler mlm takes --steps and a fixed --temp only: --schedule, --top-k, --top-p and temperature ramps are for the diffusion sampler");
            if (Bf16Support.Warning(r.GetValue(precision), device) is { } slow) Console.Error.WriteLine($"ut: {slow}");
            using var model = PriorCheckpoint.Load(r.GetValue(prior)!, r.GetValue(heads), device);
            var priorVersion = Grid.Replicas.ModelVersion.OfFile(r.GetValue(prior)!);
            var (h, w) = model._denoise_fn.TokenGrid(r.GetValue(grid));
            var corruption = model._denoise_fn.Corruption;
            if (corruption == Corruption.Uniform && (kind != "diffusion" || choice.Kind != ScheduleKind.Reciprocal))
                throw new ArgumentException($"{r.GetValue(prior)} is a sundae prior: it samples by SUNDAE's refinement (--proportion, --min-steps), not by " +
                    $"{(kind != "diffusion" ? $"--sampler {kind}" : $"--schedule {r.GetValue(samplingFlags.Schedule)}")}");
            if (corruption == Corruption.Absorbing && (r.GetResult(samplingFlags.Proportion) is { Implicit: false } || r.GetResult(samplingFlags.MinSteps) is { Implicit: false }))
                throw new ArgumentException("--proportion and --min-steps are for sundae priors; an absorbing prior reveals by --schedule");
            using var decoder = TokenDecoder.Open(r.GetValue(vqgan), device, model.Config.CodebookSize);
            var dir = r.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            var (denoiser, inference) = model.Denoiser(r.GetValue(precision), device);
            using var _ = inference;
            var sw = Stopwatch.StartNew();
            var (stepsRun, stopped) = (0L, 0);
            var stepsPerSample = kind switch
            {
                "pc-tau-leaping" => new PredictorCorrectorSampler(denoiser, s, r.GetValue(correctors), tokenSampling).Steps,
                "mlm" => s,
                _ => choice.Step(corruption, tokenSampling, s, h, w).Steps,
            };
            ConsoleProgress.Run("sample", (double)n * stepsPerSample, report =>
            {
                for (var first = 0; first < n; first += b)
                {
                    var m = Math.Min(b, n - first);
                    var done = (double)first * stepsPerSample;
                    var last = default(SamplingProgress);
                    void Progress(SamplingProgress p)
                    {
                        last = p;
                        report(done + (double)p.Step * m, corruption == Corruption.Uniform ? $"step {p.Step}/{p.Steps}, {p.Finished}/{m} stopped"
                            : $"step {p.Step}/{p.Steps}, {p.Revealed}/{p.Total} tokens");
                    }
                    var seqs = kind switch
                    {
                        "mlm" => new MlmSampler(denoiser, s, model.NumTimesteps, tokenSampling.Temperature).Sample(m, r.GetValue(seed), first, Progress),
                        "pc-tau-leaping" => new PredictorCorrectorSampler(denoiser, s, r.GetValue(correctors), tokenSampling).Sample(m, r.GetValue(seed), first, Progress),
                        _ => new TokenSampler(denoiser, choice.Step(corruption, tokenSampling, s, h, w)).Sample(m, r.GetValue(seed), first, b, Progress),
                    };
                    (stepsRun, stopped) = (stepsRun + last.Step, stopped + last.Finished);
                    for (var i = 0; i < m; i++)
                    {
                        var grid2 = new TokenGrid(h, w, seqs[i]);
                        grid2.Save(Path.Combine(dir, $"sample_{first + i:000}.json"));
                        decoder?.Save(grid2, Path.Combine(dir, $"sample_{first + i:000}.png"), Made.Json(("prior", priorVersion), ("vqgan", decoder.Version),
                            ("sample", new
                            {
                                index = first + i, seed = r.GetValue(seed), sampler = kind, steps = s, tokenSampling, schedule = choice.Kind == ScheduleKind.TauLeaping ? "tau-leaping"
                                    : r.GetValue(samplingFlags.Schedule), correctors = kind == "pc-tau-leaping" ? r.GetValue(correctors) : 0,
                                maskSchedule = r.GetValue(samplingFlags.MaskSchedule), choiceTemperature = r.GetValue(samplingFlags.ChoiceTemp), refine = corruption == Corruption.Uniform
                                    ? choice.Refine : null,
                            })));
                    }
                }
            });
            Console.WriteLine($"sample: {n} sample(s) of {h}x{w} tokens in {sw.Elapsed.TotalSeconds:F1} s -> {dir}");
            if (corruption == Corruption.Uniform)
                Console.WriteLine($"sample: {stopped} of {n} stopped themselves (a step changed nothing); batches ran {stepsRun} steps of {s * (long)Math.Ceiling(n / (double)b)}");
            return 0;
        });
        return cmd;
    }
}

