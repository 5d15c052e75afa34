using System.Text.Json;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>Options of <c>ut train-vqgan</c>; defaults are the reference's (vqgan_defaults.py).</summary>
public sealed record VqGanTrainingOptions
{
    public required string Data { get; init; }
    public required string OutDir { get; init; }
    public VqGanConfig Config { get; init; } = new();
    public int Batch { get; init; } = 3;
    /// <summary>Learning rate; the reference's default is base_lr (4.5e-6) × batch.</summary>
    public double? Lr { get; init; }
    public long Steps { get; init; } = 2_200_000;
    public long DiscStart { get; init; } = 30001;
    public double DiscWeightMax { get; init; } = 1;
    public double PerceptualWeight { get; init; } = 1;
    public string? Lpips { get; init; }
    public bool DiffAug { get; init; }
    public bool HFlip { get; init; }
    public int EmaEvery { get; init; } = 10;
    public double EmaDecay { get; init; } = 0.995;
    public int CheckpointEvery { get; init; } = 25000;
    public int KeepLast { get; init; } = 2;
    public bool Resume { get; init; }
    /// <summary>A VQ-GAN file (reference format, a bundled model too) whose autoencoder weights a new run starts from,
    /// with a new discriminator and optimisers; the architecture settings must describe it. A resumed run ignores it.</summary>
    public string? Init { get; init; }
    /// <summary>Train the decoder (generator) alone: the encoder and the codebook keep the <see cref="Init"/> file's bits,
    /// so its latent caches and the priors trained on them stay valid (a GAN-trained decoder on a fixed code).</summary>
    public bool DecoderOnly { get; init; }
    public ulong Seed { get; init; }
    public int LogEvery { get; init; } = 10;
    public int PreviewEvery { get; init; } = 5000;
    public double ValFraction { get; init; } = 0.05;
    public string Device { get; init; } = "cpu";
    /// <summary>This process's rank in a data-parallel run; <see cref="Batch"/> is the global batch, shared by the ranks.</summary>
    public DataParallelOptions Parallel { get; init; } = new();
}

public sealed record VqGanLogEntry(long Step, double L1, double Nll, double CodebookLoss, double GLoss, double DWeight,
    double DLoss, double Perplexity, int CodesUsed, double Lr);

/// <summary>
/// Trains the VQ-GAN (docs/vqgan.md): autoencoder loss L1 (+ perceptual·LPIPS when weights are given)
/// + λ·(−mean D(x̂)) + codebook loss, with λ = ‖∇nll‖ / (‖∇g‖ + 1e-4) at the last decoder conv, clamped to
/// [0, max], zero before the discriminator starts; hinge loss for the discriminator after it starts;
/// DiffAugment on what the discriminator sees; two Adams with one lr; EMA; atomic checkpoints; exact
/// resume (batches and augmentation are functions of (seed, step)).
/// Before the discriminator starts, its pass on reconstructions is skipped (its weight is 0 then, so
/// the update is the same; only its BatchNorm statistics, unused in training, would differ).
/// Data-parallel ranks (<see cref="DataParallel"/>) each read their rows of every global batch, average both networks'
/// gradients and the two gradients λ is made of over the ranks, and so take one process's steps with the whole batch,
/// exactly (to float rounding) until the discriminator starts; from then on its BatchNorm normalises each rank's rows
/// alone, as DistributedDataParallel without SyncBatchNorm does (docs/training.md).
/// </summary>
public sealed class VqGanTrainer(VqGanTrainingOptions o)
{
    public const string LogFile = "train_log.jsonl";
    public Action<long, long, VqGanLogEntry?>? Progress { get; init; }
    public Action<string>? Say { get; init; }
    /// <summary>Called after each complete checkpoint with its step and EMA weights file (the weights to serve).</summary>
    public Action<long, string>? Checkpointed { get; init; }

    /// <summary>Trains to the last step, or until <paramref name="stop"/> (checked between steps: the
    /// newest checkpoint stays the resume point).</summary>
    public void Run(CancellationToken stop = default)
    {
        var device = Torch.Device.Parse(o.Device);
        Validate();
        var folder = ImageFolder.Open(o.Data);
        var (train, val) = folder.Split(folder.Files.Count >= 20 ? o.ValFraction : 0);
        using var scope = NewDisposeScope();
        using var lpips = o.Lpips is null ? null : Lpips.Load(o.Lpips, device);
        if (lpips is null && o.PerceptualWeight > 0)
            Say?.Invoke("train-vqgan: no LPIPS weights given: training without the perceptual term");

        using var ranks = DataParallel.Join(o.Parallel);
        var share = ranks.Share(o.Batch);
        Directory.CreateDirectory(o.OutDir);
        var checkpoints = new CheckpointSet(o.OutDir, "vqgan", o.KeepLast);
        var logPath = Path.Combine(o.OutDir, LogFile);
        var resumeFrom = checkpoints.ResumeStep<VqGanLogEntry>(o.Resume, ranks.Leader ? logPath : null, e => e.Step, ranks.Leader ? Say : null);
        ranks.Agree(resumeFrom ?? 0, "the step to resume from");

        manual_seed(TrainingStreams.Seed(o.Seed, TrainingStreams.InitialWeights, 0));
        using var model = NewModel();
        using var ema = NewModel();
        if (o.Init is not null && resumeFrom is null) StartFrom(model.ae, o.Init);
        ema.load_state_dict(model.state_dict());
        model.to(device);
        ema.to(device);
        ema.eval();
        var trained = Trained(model).ToList();
        var lr = o.Lr ?? 4.5e-6 * o.Batch;
        using var aeOpt = new optim.Adam(trained, lr: lr);
        using var discOpt = new optim.Adam(model.disc.parameters(), lr: lr);
        var start = resumeFrom ?? 0;
        if (resumeFrom is not null) Restore(checkpoints, start, model, ema, aeOpt, discOpt);
        model.train();

        var previewFiles = val.Concat(train).Take(8).ToList();
        var preview = stack(previewFiles.Select(f => Images.LoadPrepared(f, o.Config.Resolution)).ToList()).to(device).DetachFromDisposeScope();
        var codesSeen = new bool[o.Config.CodebookSize];
        using var batches = new ImageBatches(train, o.Config.Resolution, o.Batch, o.Seed, o.HFlip, start,
            onSkip: m => Say?.Invoke($"train-vqgan: skipped {m}"), share: share);
        using var log = ranks.Leader ? new StreamWriter(logPath, append: true) : null;
        for (var step = start; step < o.Steps && !stop.IsCancellationRequested; step++)
        {
            using var stepScope = NewDisposeScope();
            using var noise = TrainingStreams.Rows(o.Seed, TrainingStreams.VqGanStep, (ulong)step, share.first, share.count);
            var (_, images) = batches.Next();
            var x = images.to(device);
            images.Dispose();

            var ae = AutoencoderStep(model, trained, lpips, aeOpt, x, step, noise, ranks);
            var dLoss = step > o.DiscStart ? DiscriminatorStep(model, discOpt, x, ae.XhatSeen!, noise, ranks) : 0;
            if (step > 0 && step % o.EmaEvery == 0) Ema.Update(ema, model, o.EmaDecay);

            foreach (var id in ae.Stats.Indices.flatten().ToArray<long>()) codesSeen[id] = true;
            var done = step + 1;
            VqGanLogEntry? entry = null;
            if (done % o.LogEvery == 0 || done == o.Steps || done == 1)
            {
                // The losses are the global batch's (averaged over the ranks); the codebook's use is this rank's rows'.
                entry = new VqGanLogEntry(done, ae.L1, ae.Nll, ae.CodebookLoss, ae.GLoss, ae.DWeight, dLoss, ae.Stats.Perplexity, codesSeen.Count(c => c), lr);
                Array.Clear(codesSeen);
                log?.WriteLine(JsonSerializer.Serialize(entry));
                log?.Flush();
            }
            ae.Stats.Dispose();
            if (!ranks.Leader) continue;
            if (o.PreviewEvery > 0 && (done % o.PreviewEvery == 0 || done == o.Steps)) SavePreview(ema, preview, done);
            if (done % o.CheckpointEvery == 0 || done == o.Steps)
            {
                checkpoints.Save(done, model.state_dict(), ema.state_dict(), new PyDict { ["ae"] = aeOpt.state_dict(), ["disc"] = discOpt.state_dict() }, State(done, lr));
                Checkpointed?.Invoke(done, checkpoints.EmaPath(done));
            }
            Progress?.Invoke(done, o.Steps, entry);
        }
        preview.Dispose();
        if (batches.Skipped.Count > 0) Say?.Invoke($"train-vqgan: {batches.Skipped.Count} unreadable file(s) skipped");
    }

    /// <summary>The options' settings checked, one line naming the first at fault (<c>--ranks</c> checks them before it
    /// launches its ranks).</summary>
    public void Validate()
    {
        SettingException.Require(o.Batch >= 1, SettingNames.Batch, "must be >= 1");
        o.Parallel.Checked();
        SettingException.Require(o.Batch % o.Parallel.World == 0, SettingNames.Batch,
            $"{o.Batch} is the global batch and must be a multiple of the {o.Parallel.World} ranks (each takes an equal share)");
        SettingException.Require(o.Steps >= 1, SettingNames.Steps, "must be >= 1");
        SettingException.Require(o.CheckpointEvery >= 1, SettingNames.CheckpointEvery, "must be >= 1");
        if (o.DecoderOnly && o.Init is null)
            throw new SettingException(SettingNames.DecoderOnly,
                $"trains a decoder for a code that exists: give {SettingException.Ref(SettingNames.StartFrom)} the VQ-GAN whose encoder and codebook to keep");
        if (o.Init is not null && !File.Exists(o.Init))
            throw new SettingException(SettingNames.StartFrom, $"{o.Init}: no such file: give a VQ-GAN checkpoint (vqgan_*.th)");
        o.Config.Validate();
        if (Discriminator.OutputSize(o.Config.Resolution, o.Config.DiscLayers) < 1)
            throw new SettingException(SettingNames.DiscriminatorLayers, $"{o.Config.DiscLayers} is too deep for {o.Config.Resolution}-pixel images: use fewer layers");
        if (o.Init is not null)
        {
            using var scope = NewDisposeScope();
            using var fits = VqAutoEncoder.FromConfig(o.Config);
            StartFrom(fits, o.Init);   // before anything is written: a file that does not fit is one line and no output folder
        }
    }

    private VqGanModel NewModel() =>
        new(VqAutoEncoder.FromConfig(o.Config), new Discriminator(o.Config.Channels, o.Config.Ndf, o.Config.DiscLayers));

    /// <summary>The autoencoder's weights from <paramref name="path"/>, checked against the architecture settings.</summary>
    private static void StartFrom(VqAutoEncoder ae, string path)
    {
        using var scope = NewDisposeScope();
        VqAutoEncoder init;
        try { init = VqGanCheckpoint.Load(path); }
        catch (ArgumentException e) { throw new SettingException(SettingNames.StartFrom, e.Message); }
        using (init)
        {
            try { ae.load_state_dict(init.state_dict()); }
            catch (TorchException e)
            {
                throw new SettingException(SettingNames.StartFrom,
                    $"{path}: not the autoencoder the architecture settings describe ({e.Message}): give the settings it was trained with");
            }
        }
    }

    /// <summary>The autoencoder's parameters this run trains; with <see cref="VqGanTrainingOptions.DecoderOnly"/> the others
    /// are frozen (no gradients, no EMA drift).</summary>
    private IEnumerable<Parameter> Trained(VqGanModel model)
    {
        if (!o.DecoderOnly) return model.ae.parameters();
        foreach (var p in model.ae.encoder.parameters().Concat(model.ae.quantize.parameters())) p.requires_grad_(false);
        return model.ae.generator.parameters();
    }

    private static void Restore(CheckpointSet checkpoints, long step, VqGanModel model, VqGanModel ema, optim.Adam aeOpt, optim.Adam discOpt)
    {
        model.load_state_dict(load_state_dict(checkpoints.ModelPath(step)));
        ema.load_state_dict(load_state_dict(checkpoints.EmaPath(step)));
        var opts = (PyDict)load(checkpoints.OptimPath(step))!;
        aeOpt.load_state_dict((PyDict)opts["ae"]!);
        discOpt.load_state_dict((PyDict)opts["disc"]!);
    }

    /// <summary>What an autoencoder step computed: the losses it logs, λ, the codebook statistics, and the
    /// reconstructions as the discriminator saw them (null before it starts).</summary>
    private sealed record AutoencoderResult(double L1, double Nll, double CodebookLoss, double GLoss, double DWeight, QuantizerStats Stats, Tensor? XhatSeen);

    /// <summary>The autoencoder's update: reconstruction (+ perceptual) loss, λ-weighted generator loss once the
    /// discriminator is on, codebook loss.</summary>
    private AutoencoderResult AutoencoderStep(VqGanModel model, IReadOnlyList<Parameter> trained, Lpips? lpips, optim.Adam aeOpt, Tensor x, long step,
        RowNoise noise, DataParallel ranks)
    {
        var (xhat, codebookLoss, stats) = model.ae.reconstruct(x);
        var recon = (x - xhat).abs();
        var nll = lpips is null ? recon.mean() : (recon + o.PerceptualWeight * lpips.forward(x, xhat)).mean();
        Tensor gLoss = zeros(Array.Empty<long>(), float32, x.device);
        double dWeight = 0;
        Tensor? xhatAug = null;
        if (step >= o.DiscStart)
        {
            xhatAug = o.DiffAug ? DiffAugment.Apply(xhat, noise) : xhat;
            gLoss = -model.disc.forward(xhatAug).mean();
            var lastConv = (Tensor)model.ae.generator.LastConv.weight;
            var nllGrad = torch.autograd.grad(new[] { nll }, new[] { lastConv }, retain_graph: true)[0]!;
            var gGrad = torch.autograd.grad(new[] { gLoss }, new[] { lastConv }, retain_graph: true)[0]!;
            ranks.Mean(nllGrad, gGrad);   // λ of the global batch's gradients, the same on every rank
            dWeight = Math.Clamp(nllGrad.norm().item<double>() / (gGrad.norm().item<double>() + 1e-4), 0, o.DiscWeightMax);
        }
        var loss = nll + gLoss * dWeight + codebookLoss;
        aeOpt.zero_grad();
        loss.backward();
        var logged = ranks.Average(trained, recon.mean(), nll, codebookLoss, gLoss);
        aeOpt.step();
        return new AutoencoderResult(logged[0], logged[1], logged[2], logged[3], dWeight, stats, xhatAug);
    }

    /// <summary>The discriminator's hinge-loss update on (augmented) real images and the step's reconstructions.</summary>
    private double DiscriminatorStep(VqGanModel model, optim.Adam discOpt, Tensor x, Tensor xhatSeen, RowNoise noise, DataParallel ranks)
    {
        var real = model.disc.forward(o.DiffAug ? DiffAugment.Apply(x, noise) : x);
        var fake = model.disc.forward(xhatSeen.detach());
        var d = 0.5 * ((1 - real).relu().mean() + (1 + fake).relu().mean());
        discOpt.zero_grad();
        d.backward();
        var logged = ranks.Average(model.disc.parameters(), d);
        discOpt.step();
        return logged[0];
    }

    private PyDict State(long done, double lr) => new()
    {
        ["step"] = done, ["seed"] = (long)o.Seed, ["format"] = "ut-vqgan-train-1",
        ["config"] = new PyDict
        {
            ["resolution"] = (long)o.Config.Resolution, ["nf"] = (long)o.Config.Nf, ["emb_dim"] = (long)o.Config.EmbDim,
            ["codebook_size"] = (long)o.Config.CodebookSize, ["ch_mult"] = o.Config.Mult.Select(m => (object?)(long)m).ToList(),
            ["res_blocks"] = (long)o.Config.ResBlocks, ["attn_resolutions"] = o.Config.Attn.Select(m => (object?)(long)m).ToList(),
            ["batch"] = (long)o.Batch, ["lr"] = lr, ["disc_start"] = o.DiscStart, ["decoder_only"] = o.DecoderOnly,
        },
    };

    private void SavePreview(VqGanModel ema, Tensor preview, long step)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var recon = ema.ae.reconstruct(preview);
        recon.stats.Dispose();
        var grid = Images.Grid(cat(new[] { preview, recon.xhat.clamp(0, 1) }, 0).cpu(), perRow: (int)preview.size(0));
        var dir = Path.Combine(o.OutDir, "previews");
        Directory.CreateDirectory(dir);
        Images.Save(grid, Path.Combine(dir, $"recon_{step}.png"), parameters: $"{{\"vqganTraining\":{{\"step\":{step},\"rows\":\"inputs, EMA reconstructions\"}}}}");
    }
}
