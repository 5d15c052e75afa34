using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Diffusion;

/// <summary>The training objectives of the reference's models/absorbing_diffusion.py (docs/prior.md).</summary>
public enum LossType
{
    /// <summary>The ELBO estimate vb = CE·T / (t·ln2·D).</summary>
    Elbo,
    /// <summary>(1 − t/T)·CE / (ln2·D): the paper's loss and the default.</summary>
    ReweightedElbo,
    /// <summary>CE / max(#masked, 1).</summary>
    Mlm,
}

/// <summary>How q(x_t | x_0) masks: each token independently with probability t/T (reference
/// default), or exactly round(t/T·D) tokens (at least one).</summary>
public enum MaskSchedule { Random, Fixed }

/// <summary>How training draws t: uniformly from 1..T (reference), or by importance (the square root
/// of the running mean of L_t², once every t has been seen more than 10 times).</summary>
public enum TimeSampling { Uniform, Importance }

/// <summary>One training batch's result.</summary>
public sealed record PriorLoss(Tensor Loss, Tensor VbPerSample, Tensor T) : IDisposable
{
    public void Dispose()
    {
        Loss.Dispose();
        VbPerSample.Dispose();
        T.Dispose();
    }
}

/// <summary>
/// Absorbing discrete diffusion around a denoiser (the reference's <c>AbsorbingDiffusion</c>): the
/// forward process replaces tokens by the mask id, the denoiser predicts the originals, and the
/// state dict is <c>_denoise_fn.*</c> plus the bookkeeping buffers <c>Lt_history</c>,
/// <c>Lt_count</c> and <c>loss_history</c> (T + 1 entries each), exactly as the reference saves it.
/// Sampling lives apart, in <see cref="Sampling"/>.
/// </summary>
public sealed class AbsorbingDiffusion : nn.Module<Tensor, Tensor>
{
    public readonly PriorNetwork _denoise_fn;
    public readonly Tensor Lt_history, Lt_count, loss_history;

    public int NumTimesteps { get; }
    public int MaskId => _denoise_fn.Config.MaskId;
    public LossType Loss { get; }
    public MaskSchedule Schedule { get; }
    public TimeSampling TimeSampling { get; }

    public AbsorbingDiffusion(TransformerConfig config, int timesteps = 256, LossType loss = LossType.ReweightedElbo,
        MaskSchedule schedule = MaskSchedule.Random, TimeSampling timeSampling = TimeSampling.Uniform)
        : this(new Backbones.Transformer(config), timesteps, loss, schedule, timeSampling) { }

    /// <summary>Around any denoising network (<see cref="PriorNetworks"/>).</summary>
    public AbsorbingDiffusion(PriorNetwork network, int timesteps = 256, LossType loss = LossType.ReweightedElbo,
        MaskSchedule schedule = MaskSchedule.Random, TimeSampling timeSampling = TimeSampling.Uniform)
    {
        if (timesteps < 1) throw new ArgumentException("diffusion timesteps must be >= 1");
        NumTimesteps = timesteps;
        Loss = loss;
        Schedule = schedule;
        TimeSampling = timeSampling;
        _denoise_fn = register_module("_denoise_fn", network);
        Lt_history = register_buffer("Lt_history", zeros(timesteps + 1));
        Lt_count = register_buffer("Lt_count", zeros(timesteps + 1));
        loss_history = register_buffer("loss_history", zeros(timesteps + 1));
    }

    public TransformerConfig Config => _denoise_fn.Config;

    /// <summary>The paper's transformer, when that is the backbone (tests and benchmarks reach into it).</summary>
    public Backbones.Transformer TransformerBackbone => _denoise_fn as Backbones.Transformer
        ?? throw new InvalidOperationException($"this prior's backbone is {_denoise_fn.Backbone}, not the transformer");

    /// <summary>A sampling-speed denoiser over the network's current weights, and what to dispose after it.</summary>
    public (ITokenDenoiser denoiser, IDisposable? owned) Denoiser(InferencePrecision precision, Device device) =>
        _denoise_fn.Denoiser(precision, device);

    public override Tensor forward(Tensor idx) => _denoise_fn.forward(idx);

    /// <summary>q(x_t | x_0) with the random schedule: each token masked when u &lt; t/T. Returns x_t,
    /// x_0 with unmasked positions set to −1 (the loss's ignore index), and the mask.</summary>
    public (Tensor xt, Tensor x0Ignore, Tensor mask) q_sample(Tensor x0, Tensor t, RowNoise noise)
    {
        using var scope = NewDisposeScope();
        var u = noise.Rand(x0.device, x0.size(1));
        var mask = u < (t.to(float32) / NumTimesteps).unsqueeze(1);
        return Finish(x0, mask);
    }

    /// <summary>q(x_t | x_0) with the fixed schedule: exactly max(1, round(t/T·D)) tokens per sample,
    /// chosen uniformly (a random permutation per sample).</summary>
    public (Tensor xt, Tensor x0Ignore, Tensor mask) q_sample_mlm(Tensor x0, Tensor t, RowNoise noise)
    {
        using var scope = NewDisposeScope();
        var D = x0.size(1);
        var count = (t.to(float64) / NumTimesteps * D).round().clamp(1, D).@long().unsqueeze(1);
        var rank = noise.Rand(x0.device, D).argsort(-1).argsort(-1);  // a random permutation's ranks
        return Finish(x0, rank < count);
    }

    private (Tensor, Tensor, Tensor) Finish(Tensor x0, Tensor mask)
    {
        var xt = x0.masked_fill(mask, MaskId);
        var x0Ignore = x0.masked_fill(mask.logical_not(), -1);
        return (xt.MoveToOuterDisposeScope(), x0Ignore.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>t in 1..T and its probability p_t, one a row of <paramref name="noise"/>.</summary>
    public (Tensor t, Tensor pt) sample_time(RowNoise noise, Device device)
    {
        using var scope = NewDisposeScope();
        if (TimeSampling == TimeSampling.Importance && Lt_count[1..].gt(10).all().item<bool>())
        {
            var ltSqrt = (Lt_history[1..] + 1e-10).sqrt() + 0.0001;
            var ptAll = ltSqrt / ltSqrt.sum();
            var idx = noise.Categorical(ptAll.expand(noise.Rows, 1, -1).contiguous()).squeeze(1);
            return ((idx + 1).to(device).MoveToOuterDisposeScope(), ptAll.gather(0, idx).to(device).MoveToOuterDisposeScope());
        }
        var t = noise.RandInt(1, NumTimesteps + 1, device);
        return (t.MoveToOuterDisposeScope(), full_like(t, 1.0 / NumTimesteps, float32).MoveToOuterDisposeScope());
    }

    /// <summary>The training loss of one batch of token sequences x0 (B, D): the batch mean of the
    /// configured loss, the per-sample ELBO estimate vb in bits per token, and the t drawn. Updates the
    /// bookkeeping buffers as the reference does.</summary>
    public PriorLoss train_loss(Tensor x0, RowNoise noise)
    {
        using var scope = NewDisposeScope();
        var D = x0.size(1);
        var (t, pt) = sample_time(noise, x0.device);
        var (xt, x0Ignore, mask) = Schedule == MaskSchedule.Fixed ? q_sample_mlm(x0, t, noise) : q_sample(x0, t, noise);
        var logits = _denoise_fn.forward(xt);
        var ce = F.cross_entropy(logits.permute(0, 2, 1), x0Ignore, ignore_index: -1, reduction: nn.Reduction.None).sum(1);
        var ln2D = Math.Log(2) * D;
        var vb = ce / t.to(float32) / pt / ln2D;
        var loss = Loss switch
        {
            LossType.Elbo => vb,
            LossType.ReweightedElbo => (1 - t.to(float32) / NumTimesteps) * ce / ln2D,
            _ => ce / mask.sum(1).clamp_min(1).to(float32),
        };
        using (no_grad())
        {
            var lt2 = vb.detach().pow(2);
            Lt_history.copy_(Lt_history.scatter(0, t, Lt_history.gather(0, t) * 0.9 + lt2 * 0.1));
            Lt_count.copy_(Lt_count.scatter_add(0, t, ones_like(lt2)));
            loss_history.copy_(loss_history.scatter(0, t, loss_history.gather(0, t) * 0.9 + loss.detach() * 0.1));
        }
        return new PriorLoss(loss.mean().MoveToOuterDisposeScope(), vb.detach().MoveToOuterDisposeScope(), t.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// A single-sample Monte-Carlo estimate of the absorbing ELBO (docs/prior.md): for t = T..1 draw
    /// x_t ~ q(x_t | x_0) and add CE over masked tokens / t. Returns nats per sequence, (B).
    /// </summary>
    public Tensor elbo(Tensor x0, RowNoise noise)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var total = zeros(new[] { x0.size(0) }, float32, x0.device);
        for (var step = NumTimesteps; step >= 1; step--)
        {
            using var stepScope = NewDisposeScope();
            var t = full(new[] { x0.size(0) }, step, int64, x0.device);
            var (xt, x0Ignore, _) = q_sample(x0, t, noise);
            var ce = F.cross_entropy(_denoise_fn.forward(xt).permute(0, 2, 1), x0Ignore, ignore_index: -1,
                reduction: nn.Reduction.None).sum(1);
            total.add_(ce / step);
        }
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a sampler checkpoint. The bookkeeping buffers may have any length (released files have
    /// 1001 entries from T = 1000): they are resized to the checkpoint's, which changes nothing about
    /// sampling.
    /// </summary>
    public void load_reference_state(IReadOnlyDictionary<string, Tensor> state)
    {
        using (no_grad())
        {
            foreach (var (name, buffer) in new[] { ("Lt_history", Lt_history), ("Lt_count", Lt_count), ("loss_history", loss_history) })
                if (state.TryGetValue(name, out var saved) && saved.dim() == 1 && saved.size(0) != buffer.size(0))
                    buffer.set_data(zeros_like(saved, float32).to(buffer.device));
        }
        load_state_dict(state);
    }
}
