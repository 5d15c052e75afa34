using System.CommandLine;
using UnleashingTransformers.Models.Training;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut train-vqgan</c>: trains the VQ-GAN on an image folder.</summary>
internal static class TrainVqGanCommand
{
    private static int[] Ints(string text, string flag)
    {
        try { return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray(); }
        catch (FormatException) { throw new ArgumentException($"{flag} '{text}': expected comma-separated integers, e.g. 1,1,2,2,4"); }
    }

    /// <summary>The flags' defaults: the options record's own, the reference's (the silo's trainer role binds the same record).</summary>
    private static readonly VqGanTrainingOptions Defaults = new() { Data = "", OutDir = "" };

    public static Command Create()
    {
        var common = new CommonOptions();
        var parallel = new DataParallelFlags();
        var data = new Option<string>("--data") { Description = "image folder (searched recursively)", Required = true };
        var outDir = new Option<string>("--out") { Description = "checkpoint directory", Required = true };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => Defaults.Config.Resolution, Description = "training resolution" };
        var nf = new Option<int>("--nf") { DefaultValueFactory = _ => Defaults.Config.Nf };
        var chMult = new Option<string>("--ch-mult") { DefaultValueFactory = _ => string.Join(",", Defaults.Config.Mult) };
        var resBlocks = new Option<int>("--res-blocks") { DefaultValueFactory = _ => Defaults.Config.ResBlocks };
        var attn = new Option<string>("--attn-resolutions") { DefaultValueFactory = _ => string.Join(",", Defaults.Config.Attn) };
        var embDim = new Option<int>("--emb-dim") { DefaultValueFactory = _ => Defaults.Config.EmbDim };
        var codebook = new Option<int>("--codebook-size") { DefaultValueFactory = _ => Defaults.Config.CodebookSize };
        var ndf = new Option<int>("--ndf") { DefaultValueFactory = _ => Defaults.Config.Ndf };
        var discLayers = new Option<int>("--disc-layers") { DefaultValueFactory = _ => Defaults.Config.DiscLayers };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => Defaults.Batch };
        var lr = new Option<double?>("--lr") { Description = "learning rate (default 4.5e-6 x batch, as the reference)" };
        var steps = new Option<long>("--steps") { DefaultValueFactory = _ => Defaults.Steps };
        var discStart = new Option<long>("--disc-start") { DefaultValueFactory = _ => Defaults.DiscStart };
        var discWeightMax = new Option<double>("--disc-weight-max") { DefaultValueFactory = _ => Defaults.DiscWeightMax };
        var lpips = new Option<string?>("--lpips") { Description = "LPIPS-VGG weights (lpips keys, or a reference vqgan_*.th holding perceptual.*)" };
        var perceptual = new Option<double>("--perceptual-weight") { DefaultValueFactory = _ => Defaults.PerceptualWeight };
        var diffAug = new Option<bool>("--diff-aug") { Description = "DiffAugment (color, translation) for the discriminator; all paper models used it" };
        var hflip = new Option<bool>("--hflip") { Description = "flip each batch horizontally with probability 1/2" };
        var every = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => Defaults.CheckpointEvery };
        var keep = new Option<int>("--keep") { DefaultValueFactory = _ => Defaults.KeepLast };
        var resume = new Option<bool>("--resume");
        var init = new Option<string?>("--init")
        {
            Description = "start from this VQ-GAN's autoencoder (e.g. models/terrain/vqgan_ema.th) with a new discriminator; the architecture flags must describe it",
        };
        var decoderOnly = new Option<bool>("--decoder-only")
        {
            Description = "with --init: train the decoder alone; the encoder and codebook keep their bits, so latents and priors made with them stay valid",
        };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => Defaults.Seed };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => Defaults.LogEvery };
        var previewEvery = new Option<int>("--preview-every") { DefaultValueFactory = _ => Defaults.PreviewEvery, Description = "reconstruction grid PNG every N steps (0: never)" };
        var emaDecay = new Option<double>("--ema-decay") { DefaultValueFactory = _ => Defaults.EmaDecay, Description = "EMA: ema = d*ema + (1-d)*model" };
        var emaEvery = new Option<int>("--ema-every") { DefaultValueFactory = _ => Defaults.EmaEvery, Description = "EMA update every N steps" };
        var cmd = new Command("train-vqgan", "Train the VQ-GAN on an image folder")
        {
            data, outDir, size, nf, chMult, resBlocks, attn, embDim, codebook, ndf, discLayers, batch, lr, steps, discStart,
            discWeightMax, lpips, perceptual, diffAug, hflip, every, keep, resume, seed, logEvery, previewEvery,
        };
        cmd.Options.Add(emaDecay);
        cmd.Options.Add(emaEvery);
        cmd.Options.Add(init);
        cmd.Options.Add(decoderOnly);
        common.AddTo(cmd);
        parallel.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            if (r.GetValue(lpips) is { } lp) CommonOptions.RequireFile(lp, "--lpips");
            var config = new VqGanConfig(r.GetValue(size), 3, r.GetValue(nf), Ints(r.GetValue(chMult)!, "--ch-mult"), r.GetValue(resBlocks),
                Ints(r.GetValue(attn)!, "--attn-resolutions"), r.GetValue(embDim), r.GetValue(codebook), Defaults.Config.Beta, r.GetValue(discLayers), r.GetValue(ndf));
            config.Validate();
            var options = new VqGanTrainingOptions
            {
                Data = r.GetValue(data)!, OutDir = r.GetValue(outDir)!, Config = config, Batch = r.GetValue(batch), Lr = r.GetValue(lr),
                Steps = r.GetValue(steps), DiscStart = r.GetValue(discStart), DiscWeightMax = r.GetValue(discWeightMax),
                Lpips = r.GetValue(lpips), PerceptualWeight = r.GetValue(perceptual), DiffAug = r.GetValue(diffAug), HFlip = r.GetValue(hflip),
                CheckpointEvery = r.GetValue(every), KeepLast = r.GetValue(keep), Resume = r.GetValue(resume), Seed = r.GetValue(seed),
                Init = r.GetValue(init), DecoderOnly = r.GetValue(decoderOnly),
                LogEvery = Math.Max(1, r.GetValue(logEvery)), PreviewEvery = r.GetValue(previewEvery), Device = device.ToString(),
                EmaDecay = r.GetValue(emaDecay), EmaEvery = Math.Max(1, r.GetValue(emaEvery)), Parallel = parallel.Options(r),
            };
            if (parallel.Launched(r) is { } run)
            {
                new VqGanTrainer(options with { Parallel = run }).Validate();   // one line here, not one from each rank
                return DataParallelFlags.Launch("train-vqgan", run, options.Batch, r.GetValue(common.Threads));
            }
            var detail = "";
            ConsoleProgress.Run("train-vqgan", options.Steps, report =>
            {
                new VqGanTrainer(options)
                {
                    Say = Console.WriteLine,
                    Progress = (step, total, e) =>
                    {
                        if (e is not null)
                            detail = $"l1 {e.L1:F4} nll {e.Nll:F4} codebook {e.CodebookLoss:F4} perplexity {e.Perplexity:F1} codes {e.CodesUsed}"
                                + (e.DWeight > 0 || e.DLoss > 0 ? $" g {e.GLoss:F3} λ {e.DWeight:F3} d {e.DLoss:F3}" : "");
                        report(step, detail);
                    },
                }.Run();
            });
            Console.WriteLine($"train-vqgan: done; checkpoints in {options.OutDir}, log in {Path.Combine(options.OutDir, VqGanTrainer.LogFile)}");
            return 0;
        });
        return cmd;
    }
}
