using System.Text.Json;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>Options of <c>ut train-prior</c>; defaults are the reference's (churches/bedrooms).</summary>
public sealed record PriorTrainingOptions
{
    public required string Latents { get; init; }
    public required string OutDir { get; init; }
    public string? Grid { get; init; }
    /// <summary>Train on random HxW windows of each latent grid (<see cref="Grid"/>, or square) instead of the whole grid
    /// (<c>--crop</c>): the prior's window is HxW, and it sees the data in every phase (a position-free NAT needs that
    /// to continue a pattern from whatever phase its first reveals fall in). Validation takes the centre window.</summary>
    public string? Crop { get; init; }
    public int? CodebookSize { get; init; }
    public int Emb { get; init; } = 512;
    public int Heads { get; init; } = 8;
    public int Layers { get; init; } = 24;
    /// <summary>The denoising network (<c>--model</c>): the paper's transformer, DiT, UViT, NAT or SUNDAE's hourglass.</summary>
    public PriorBackbone Model { get; init; } = PriorNetworks.Default;
    /// <summary>What only some backbones take (patch, kernel, dilations, hourglass depth and shortening).</summary>
    public BackboneOptions Backbone { get; init; } = new();
    /// <summary>SUNDAE's unrolled denoising steps per training step (<c>--unroll</c>; 2 in every reference config).</summary>
    public int Unroll { get; init; } = DefaultUnroll;
    public const int DefaultUnroll = 2;
    public int Batch { get; init; } = 20;
    public double Lr { get; init; } = 2e-4;
    public int Warmup { get; init; } = 10000;
    public long Steps { get; init; } = 2_000_000;
    public int CheckpointEvery { get; init; } = 25000;
    public int KeepLast { get; init; } = 2;
    public bool Resume { get; init; }
    public LossType Loss { get; init; } = LossType.ReweightedElbo;
    public MaskSchedule MaskSchedule { get; init; } = MaskSchedule.Random;
    public TimeSampling TimeSampling { get; init; } = TimeSampling.Uniform;
    public int Timesteps { get; init; } = 256;
    public ulong Seed { get; init; }
    public double ValFraction { get; init; } = 0.05;
    public int EvalEvery { get; init; }
    public int EmaEvery { get; init; } = 10;
    public double EmaDecay { get; init; } = 0.995;
    public int LogEvery { get; init; } = 10;
    public string Device { get; init; } = "cpu";
    /// <summary>This process's rank in a data-parallel run; <see cref="Batch"/> is the global batch, shared by the ranks.</summary>
    public DataParallelOptions Parallel { get; init; } = new();
}

/// <summary>One logged training step.</summary>
public sealed record PriorLogEntry(long Step, double Loss, double Elbo, double Lr, long SkippedNan, double? ValElbo);

/// <summary>
/// Trains a prior on a latent cache (docs/prior.md), absorbing or SUNDAE's by its backbone's corruption: Adam with linear
/// warm-up then constant lr, EMA of the parameters, NaN-loss steps skipped and counted, atomic
/// checkpoint sets, exact resume. Every step's randomness (batch, t, masks) is a function of
/// (seed, step, row of the global batch), so a resumed run repeats an uninterrupted one exactly, and N data-parallel
/// ranks of B rows each take the steps of one process with N·B (to float rounding: docs/training.md).
/// </summary>
public sealed class PriorTrainer(PriorTrainingOptions o)
{
    public const string LogFile = "train_log.jsonl";

    public Action<long, long, PriorLogEntry?>? Progress { get; init; }
    public Action<string>? Say { get; init; }
    /// <summary>Called after each complete checkpoint with its step and EMA weights file (the weights to serve).</summary>
    public Action<long, string>? Checkpointed { get; init; }

    /// <summary>
    /// Checks a latent cache (read once): integer (N, L) token ids in [0, K). L is the grid's token
    /// count when given, else the file's; K the given codebook size, else the largest id + 1.
    /// </summary>
    public static (Tensor ids, int tokens, int codebookSize) CheckLatents(Tensor raw, string path, int? tokens, int? codebookSize)
    {
        if (raw.dim() != 2) throw new ArgumentException($"{path}: latent cache must be (N, L) token ids, got shape [{string.Join(", ", raw.shape)}]");
        if (raw.dtype is not (ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Byte))
            throw new ArgumentException($"{path}: latent cache must hold integer token ids, got {raw.dtype.PyName()}");
        var ids = raw.@long();
        var l = tokens ?? (int)ids.size(1);
        if (ids.size(1) != l)
            throw new ArgumentException($"{path}: latents have {ids.size(1)} tokens per row but the grid holds {l}: check the {SettingException.Ref(SettingNames.Grid)}");
        var (min, max) = (ids.min().item<long>(), ids.max().item<long>());
        var k = codebookSize ?? (int)max + 1;
        if (min < 0 || max >= k)
            throw new ArgumentException($"{path}: latent ids out of range: found {min}..{max}, codebook size is {k}");
        return (ids, l, k);
    }

    /// <summary>The trainer's file names: absorbing_N.th (the paper's), or sundae_N.th for a SUNDAE prior.</summary>
    public static string CheckpointPrefix(PriorBackbone model) => model.CheckpointPrefix;

    /// <summary>The options' settings checked, one line naming the first at fault (before anything is read or written;
    /// <c>--ranks</c> checks them before it launches its ranks).</summary>
    public void Validate()
    {
        SettingException.Require(o.Batch >= 1, SettingNames.Batch, "must be >= 1");
        SettingException.Require(o.Steps >= 1, SettingNames.Steps, "must be >= 1");
        SettingException.Require(o.CheckpointEvery >= 1, SettingNames.CheckpointEvery, "must be >= 1");
        SettingException.Require(o.Lr > 0, SettingNames.LearningRate, "must be > 0");
        SettingException.Require(o.Warmup >= 0, SettingNames.Warmup, "must be >= 0");
        SettingException.Require(o.ValFraction is >= 0 and < 1, SettingNames.ValidationFraction, "must lie in [0, 1)");
        SettingException.Require(o.Unroll >= 1, SettingNames.Unroll, "must be >= 1");
        SettingException.Require(o.Unroll == PriorTrainingOptions.DefaultUnroll || o.Model.Corruption == Corruption.Uniform,   // unrolled denoising is how uniform corruption trains
            SettingNames.Unroll, $"is for {SettingException.Ref(SettingNames.Backbone)} {string.Join(" and ", PriorNetworks.All.Where(b => b.Corruption == Corruption.Uniform).Select(b => b.Name))}");
        o.Parallel.Checked();
        SettingException.Require(o.Batch % o.Parallel.World == 0, SettingNames.Batch,
            $"{o.Batch} is the global batch and must be a multiple of the {o.Parallel.World} ranks (each takes an equal share)");
        SettingException.Require(o.TimeSampling != TimeSampling.Importance || o.Parallel.World == 1, SettingNames.TimeSampling,
            "importance draws from each process's own loss history: train it in one process (no --ranks)");
    }

    /// <summary>Trains to the last step, or until <paramref name="stop"/> (checked between steps: the
    /// newest checkpoint stays the resume point).</summary>
    public void Run(CancellationToken stop = default)
    {
        var device = Torch.Device.Parse(o.Device);
        using var scope = NewDisposeScope();
        Validate();
        var (gh, gw) = o.Grid is null ? (-1, -1) : GridShape.Parse(o.Grid, SettingNames.Grid);
        var (latents, tokens, codebook) = CheckLatents(load_tensor(o.Latents), o.Latents, gh > 0 ? gh * gw : null, o.CodebookSize);
        var crops = o.Crop is null ? null : WindowCrops.Of(o.Crop, o.Grid, tokens, o.Seed);
        var config = new TransformerConfig(codebook, o.Emb, o.Heads, o.Layers, crops?.Tokens ?? tokens);
        config.Validate();
        var (gridH, gridW) = !o.Model.OnGrid ? (0, 0) : crops?.Window ?? GridShape.Of(config.BlockSize, o.Grid);   // the transformer needs no grid
        PriorNetwork Network() => PriorNetworks.Create(o.Model, config, gridH, gridW, o.Backbone);
        PriorNetworks.Check(o.Model, config, gridH, gridW, o.Backbone);   // before anything is written

        // Deterministic split: the last ValFraction of rows, in index order, as the reference's FFHQ split.
        var n = latents.size(0);
        var nVal = o.ValFraction > 0 && n >= 20 ? Math.Max(1, (long)Math.Round(n * o.ValFraction)) : 0;
        var train = latents[..(int)(n - nVal)].to(device);
        var val = nVal > 0 ? latents[(int)(n - nVal)..].to(device) : null;
        if (crops is not null && val is not null) val = crops.Centre(val);
        var nTrain = train.size(0);
        if (nTrain == 0) throw new ArgumentException($"{o.Latents}: no training rows");

        using var ranks = DataParallel.Join(o.Parallel);
        var (first, rows) = ranks.Share(o.Batch);
        Directory.CreateDirectory(o.OutDir);
        var checkpoints = new CheckpointSet(o.OutDir, CheckpointPrefix(o.Model), o.KeepLast);
        var logPath = Path.Combine(o.OutDir, LogFile);
        var resumeFrom = checkpoints.ResumeStep<PriorLogEntry>(o.Resume, ranks.Leader ? logPath : null, e => e.Step, ranks.Leader ? Say : null);
        ranks.Agree(resumeFrom ?? 0, "the step to resume from");

        // Initial weights from --seed too: a run is a function of its options and data.
        manual_seed(TrainingStreams.Seed(o.Seed, TrainingStreams.InitialWeights, 0));
        using var model = new AbsorbingDiffusion(Network(), o.Timesteps, o.Loss, o.MaskSchedule, o.TimeSampling);
        using var ema = new AbsorbingDiffusion(Network(), o.Timesteps, o.Loss, o.MaskSchedule, o.TimeSampling);
        ema.load_state_dict(model.state_dict());
        model.to(device);
        ema.to(device);
        using var opt = new optim.Adam(model.parameters(), lr: o.Lr);
        long start = resumeFrom ?? 0, skipped = 0;
        if (resumeFrom is not null)
        {
            model.load_state_dict(load_state_dict(checkpoints.ModelPath(start)));
            ema.load_state_dict(load_state_dict(checkpoints.EmaPath(start)));
            opt.load_state_dict((PyDict)load(checkpoints.OptimPath(start))!);
            var state = (PyDict)load(checkpoints.StatePath(start))!;
            skipped = Convert.ToInt64(state["skipped_nan"]);
        }
        model.train();

        using var log = ranks.Leader ? new StreamWriter(logPath, append: true) : null;
        for (var step = start; step < o.Steps && !stop.IsCancellationRequested; step++)
        {
            using var stepScope = NewDisposeScope();
            var lr = o.Warmup > 0 && step <= o.Warmup ? o.Lr * step / o.Warmup : o.Lr;
            opt.lr = lr;
            var x0 = train.index_select(0, BatchIndices(step, nTrain, first, rows).to(device));
            if (crops is not null) x0 = crops.Random(x0, step, first);
            using var noise = TrainingStreams.Rows(o.Seed, TrainingStreams.PriorStep, (ulong)step, first, rows);
            using var result = Loss(model, x0, noise);
            opt.zero_grad();
            result.Loss.backward();
            // The loss and ELBO of the whole global batch, and its gradients, on every rank.
            var means = ranks.Average(model.parameters(), result.Loss, result.VbPerSample.mean());
            var (lossValue, elbo) = (means[0], means[1]);
            if (!double.IsFinite(lossValue))
                skipped++; // the reference skips NaN-loss steps (non-AMP path); every rank sees the same mean, so all skip
            else
                opt.step();
            if (step > 0 && step % o.EmaEvery == 0) Ema.Update(ema, model, o.EmaDecay);

            PriorLogEntry? entry = null;
            var done = step + 1;
            double? valElbo = ranks.Leader && o.EvalEvery > 0 && val is not null && done % o.EvalEvery == 0 ? Evaluate(ema, val) : null;
            if (done % o.LogEvery == 0 || valElbo is not null || done == o.Steps)
            {
                entry = new PriorLogEntry(done, lossValue, elbo, lr, skipped, valElbo);
                log?.WriteLine(JsonSerializer.Serialize(entry));
                log?.Flush();
            }
            if (ranks.Leader && (done % o.CheckpointEvery == 0 || done == o.Steps))
            {
                var state = new PyDict
                {
                    ["step"] = done, ["seed"] = (long)o.Seed, ["skipped_nan"] = skipped, ["format"] = "ut-prior-train-1",
                    ["config"] = new PyDict
                    {
                        ["codebook_size"] = (long)config.CodebookSize, ["emb"] = (long)config.Emb, ["heads"] = (long)config.Heads,
                        ["layers"] = (long)model.Config.Layers, ["block_size"] = (long)config.BlockSize, ["timesteps"] = (long)o.Timesteps,
                        ["model"] = o.Model.Name, ["crop"] = o.Crop ?? "", ["patch"] = (long)o.Backbone.Patch, ["loss"] = o.Loss.ToString(), ["batch"] = (long)o.Batch, ["lr"] = o.Lr,
                        ["warmup"] = (long)o.Warmup,
                    },
                };
                checkpoints.Save(done, PriorCheckpoint.Recorded(model.state_dict(), model._denoise_fn), PriorCheckpoint.Recorded(ema.state_dict(), ema._denoise_fn), opt.state_dict(), state);
                Checkpointed?.Invoke(done, checkpoints.EmaPath(done));
            }
            Progress?.Invoke(done, o.Steps, entry);
        }
    }

    /// <summary>Rows [first, first + count) of a step's global batch: consecutive slices of a per-epoch permutation
    /// (seeded by the epoch), wrapping into the next epoch, so any step's batch is known without replaying earlier
    /// ones, and each rank takes its share of it (as torch's DistributedSampler shares one permutation).</summary>
    private Tensor BatchIndices(long step, long nTrain, int first, int count)
    {
        var indices = new long[count];
        var start = step * o.Batch + first;
        long cachedEpoch = -1;
        long[] perm = Array.Empty<long>();
        for (var i = 0; i < count; i++)
        {
            var c = start + i;
            var epoch = c / nTrain;
            if (epoch != cachedEpoch)
            {
                using var g = new Generator(TrainingStreams.Seed(o.Seed, TrainingStreams.EpochOrder, (ulong)epoch, CounterRng.Purpose.Reveal));
                using var p = randperm(nTrain, g);
                perm = p.ToArray<long>();
                cachedEpoch = epoch;
            }
            indices[i] = perm[c % nTrain];
        }
        return from_array<long>(indices, count);
    }

    /// <summary>The objective of the prior's corruption: the absorbing ELBO, or SUNDAE's unrolled denoising.</summary>
    private PriorLoss Loss(AbsorbingDiffusion model, Tensor x0, RowNoise noise) =>
        model._denoise_fn.Corruption == Corruption.Uniform ? StepUnrolledDenoising.Loss(model._denoise_fn, x0, o.Unroll, noise) : model.train_loss(x0, noise);

    /// <summary>Mean ELBO estimate (bits per token; SUNDAE: its unrolled cross-entropy) over the validation rows, with fixed randomness.</summary>
    private double Evaluate(AbsorbingDiffusion model, Tensor val)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        double total = 0;
        var n = val.size(0);
        for (long i = 0; i < n; i += o.Batch)
        {
            var x0 = val[(int)i..(int)Math.Min(n, i + o.Batch)];
            using var noise = TrainingStreams.Rows(o.Seed, TrainingStreams.Validation, 0, i, x0.size(0));
            // The bookkeeping buffers of the EMA copy are not used for anything, so updating them is harmless.
            using var r = Loss(model, x0, noise);
            total += r.VbPerSample.sum().item<double>();
        }
        return total / n;
    }
}
