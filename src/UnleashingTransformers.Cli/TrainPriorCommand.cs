using System.CommandLine;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut train-prior</c>: trains the absorbing-diffusion prior on a latent cache.</summary>
internal static class TrainPriorCommand
{
    /// <summary>The flags' defaults: the options record's own (the silo's trainer role binds the same record).</summary>
    private static readonly PriorTrainingOptions Defaults = new() { Latents = "", OutDir = "" };

    public static Command Create()
    {
        var common = new CommonOptions();
        var parallel = new DataParallelFlags();
        var latents = new Option<string>("--latents") { Description = "latent cache: torch.save int64 (N, L) token ids (the reference's or `ut encode --data`)", Required = true };
        var outDir = new Option<string>("--out") { Description = "checkpoint directory", Required = true };
        var grid = new Option<string?>("--grid") { Description = "the latents' token grid HxW (default: L as given by the latents, square); the prior's window unless --crop" };
        var crop = new Option<string?>("--crop") { Description = "train on a random HxW window of each latent grid (the prior's window): every phase of the data shows in it" };
        var codebook = new Option<int?>("--codebook-size") { Description = "codebook size K (default: largest id + 1)" };
        var emb = new Option<int>("--emb") { DefaultValueFactory = _ => Defaults.Emb, Description = "width" };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => Defaults.Heads, Description = "attention heads" };
        var layers = new Option<string>("--layers")
        {
            DefaultValueFactory = _ => Defaults.Layers.ToString(),
            Description = $"transformer blocks; for --model sundae the hourglass depth pre-valley-post (default {HourglassConfig.DefaultDepth})"
        };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => Defaults.Batch };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => Defaults.Lr };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => Defaults.Warmup, Description = "linear warm-up steps" };
        var steps = new Option<long>("--steps") { DefaultValueFactory = _ => Defaults.Steps };
        var every = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => Defaults.CheckpointEvery };
        var keep = new Option<int>("--keep") { DefaultValueFactory = _ => Defaults.KeepLast, Description = "complete checkpoints kept" };
        var resume = new Option<bool>("--resume") { Description = "continue from the newest complete checkpoint in --out" };
        var loss = new Option<LossType>("--loss") { DefaultValueFactory = _ => Defaults.Loss, Description = "Elbo, ReweightedElbo or Mlm" };
        var schedule = new Option<MaskSchedule>("--mask-schedule") { DefaultValueFactory = _ => Defaults.MaskSchedule };
        var time = new Option<TimeSampling>("--time-sampling") { DefaultValueFactory = _ => Defaults.TimeSampling };
        var timesteps = new Option<int>("--timesteps") { DefaultValueFactory = _ => Defaults.Timesteps, Description = "diffusion steps T" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => Defaults.Seed };
        var valFraction = new Option<double>("--val-fraction") { DefaultValueFactory = _ => Defaults.ValFraction };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => Defaults.EvalEvery, Description = "validation ELBO every N steps (0: never)" };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => Defaults.LogEvery };
        var emaDecay = new Option<double>("--ema-decay") { DefaultValueFactory = _ => Defaults.EmaDecay, Description = "EMA: ema = d*ema + (1-d)*model" };
        var model = new Option<string>("--model")
        {
            DefaultValueFactory = _ => Defaults.Model.Name,
            Description = $"denoising network: {string.Join(", ", PriorNetworks.All.Select(b => b.Description))}"
        };
        var patch = new Option<int>("--patch") { DefaultValueFactory = _ => Defaults.Backbone.Patch, Description = "dit, uvit: patch side on the token grid (it must divide the grid)" };
        var kernel = new Option<int>("--kernel") { DefaultValueFactory = _ => Defaults.Backbone.Kernel, Description = "nat: neighbourhood side (odd)" };
        var dilations = new Option<string?>("--dilations") { Description = "nat: one dilation per head group, e.g. 1,2 (the default: half the heads near, half wider)" };
        var positions = new Option<string?>("--positions")
        {
            Description = "nat: none (rotary offsets only: runs on any grid, --whole; the grid layout's default) or learned (absolute positions on the training grid too, as the reference's and " +
                "NAT Diffuser's: learns what lies where in a window, runs in a canvas's windows; the flat layout's)",
        };
        var layout = new Option<string>("--layout")
        {
            DefaultValueFactory = _ => Defaults.Backbone.Layout.ToString().ToLowerInvariant(),
            Description = "nat: grid (2-D neighbourhoods on the token grid) or flat (NAT Diffuser's model: 1-D neighbourhoods over the flattened sequence, dilations 1,4,8,16, its checkpoint keys)",
        };
        var shorten = new Option<int>("--shorten")
        {
            DefaultValueFactory = _ => Defaults.Backbone.Shorten,
            Description = "sundae: the valley has k times fewer tokens, sqrt(k) x sqrt(k) blocks merged (a square: 4, 9, 16)"
        };
        var unroll = new Option<int>("--unroll") { DefaultValueFactory = _ => Defaults.Unroll, Description = "sundae: denoising steps unrolled per training step, each fed the last one's samples" };
        var emaEvery = new Option<int>("--ema-every") { DefaultValueFactory = _ => Defaults.EmaEvery, Description = "EMA update every N steps" };
        var cmd = new Command("train-prior", "Train the absorbing-diffusion prior on a latent cache")
        {
            latents, outDir, grid, codebook, emb, heads, layers, batch, lr, warmup, steps, every, keep, resume, loss,
            schedule, time, timesteps, seed, valFraction, evalEvery, logEvery,
        };
        cmd.Options.Add(emaDecay);
        cmd.Options.Add(emaEvery);
        cmd.Options.Add(model);
        cmd.Options.Add(patch);
        cmd.Options.Add(kernel);
        cmd.Options.Add(dilations);
        cmd.Options.Add(positions);
        cmd.Options.Add(layout);
        cmd.Options.Add(crop);
        cmd.Options.Add(shorten);
        cmd.Options.Add(unroll);
        common.AddTo(cmd);
        parallel.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            CommonOptions.RequireFile(r.GetValue(latents), "--latents");
            var backbone = PriorNetworks.Parse(r.GetValue(model)!);
            var (layerCount, depth) = backbone.Layers(r.GetResult(layers) is { Implicit: false } ? r.GetValue(layers) : null, Defaults.Layers);
            var options = new PriorTrainingOptions
            {
                Latents = r.GetValue(latents)!, OutDir = r.GetValue(outDir)!, Grid = r.GetValue(grid), Crop = r.GetValue(crop), CodebookSize = r.GetValue(codebook),
                Emb = r.GetValue(emb), Heads = r.GetValue(heads), Layers = layerCount, Batch = r.GetValue(batch),
                Lr = r.GetValue(lr), Warmup = r.GetValue(warmup), Steps = r.GetValue(steps), CheckpointEvery = r.GetValue(every),
                KeepLast = r.GetValue(keep), Resume = r.GetValue(resume), Loss = r.GetValue(loss), MaskSchedule = r.GetValue(schedule),
                TimeSampling = r.GetValue(time), Timesteps = r.GetValue(timesteps), Seed = r.GetValue(seed),
                ValFraction = r.GetValue(valFraction), EvalEvery = r.GetValue(evalEvery), LogEvery = Math.Max(1, r.GetValue(logEvery)),
                Device = device.ToString(),
                EmaDecay = r.GetValue(emaDecay), EmaEvery = Math.Max(1, r.GetValue(emaEvery)),
                Model = backbone, Unroll = r.GetValue(unroll), Parallel = parallel.Options(r),
                Backbone = new BackboneOptions
                {
                    Patch = r.GetValue(patch), Kernel = r.GetValue(kernel), Dilations = r.GetValue(dilations) is { } d ? ParseDilations(d) : null,
                    Positions = r.GetValue(positions) switch
                    {
                        null => null,
                        "none" => NatPositions.None,
                        "learned" => NatPositions.Learned,
                        var other => throw new ArgumentException($"--positions {other}: expected none or learned"),
                    },
                    Layout = r.GetValue(layout) switch
                    {
                        "grid" => NatLayout.Grid,
                        "flat" => NatLayout.Flat,
                        var other => throw new ArgumentException($"--layout {other}: expected grid or flat"),
                    },
                    Depth = depth, Shorten = r.GetValue(shorten),
                },
            };
            if (parallel.Launched(r) is { } run)
            {
                new PriorTrainer(options with { Parallel = run }).Validate();   // one line here, not one from each rank
                return DataParallelFlags.Launch("train-prior", run, options.Batch, r.GetValue(common.Threads));
            }
            string detail = "";
            ConsoleProgress.Run("train-prior", options.Steps, report =>
            {
                var trainer = new PriorTrainer(options)
                {
                    Say = Console.WriteLine,
                    Progress = (step, total, entry) =>
                    {
                        if (entry is not null)
                            detail = $"loss {entry.Loss:F4} {(backbone.Corruption == Corruption.Uniform ? "ce" : "elbo")} {entry.Elbo:F4} bits/token lr {entry.Lr:G3}"
                                + (entry.ValElbo is { } v ? $" val-elbo {v:F4}" : "") + (entry.SkippedNan > 0 ? $" nan-skipped {entry.SkippedNan}" : "");
                        report(step, detail);
                    },
                };
                trainer.Run();
            });
            Console.WriteLine($"train-prior: done; checkpoints in {options.OutDir}, log in {Path.Combine(options.OutDir, PriorTrainer.LogFile)}");
            return 0;
        });
        return cmd;
    }

    private static int[] ParseDilations(string text) =>
        text.Split(',').Select(p => int.TryParse(p, out var d) && d >= 1 ? d : throw new ArgumentException($"--dilations {text}: positive integers, comma-separated (e.g. 1,2)")).ToArray();
}
