using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Diffusion;

/// <summary>
/// SUNDAE's training objective (Savinov et al. 2022, as SUNDAE-VQGAN's train.py): corrupt each sequence by replacing
/// its tokens with uniformly random ones at a rate r ~ U(0, 1) drawn per sequence; run the network, draw tokens from
/// its logits and feed them back (detached), <c>unroll</c> times; the loss is the cross-entropy of every unrolled
/// step's logits against the clean tokens. Feeding back its own samples is what teaches the network to correct them.
/// </summary>
public static class StepUnrolledDenoising
{
    /// <summary>x0 with each token replaced by a uniform draw from the codebook with its row's probability r.</summary>
    public static Tensor Corrupt(Tensor x0, int codebookSize, RowNoise noise)
    {
        using var scope = NewDisposeScope();
        var rate = noise.Rand(x0.device, 1);
        var replace = noise.Rand(x0.device, x0.size(1)) < rate;
        var random = noise.RandInt(0, codebookSize, x0.device, x0.size(1));
        return where(replace, random, x0).MoveToOuterDisposeScope();
    }

    /// <summary>The batch's loss (mean cross-entropy over unrolled steps and positions, nats), and per sample the same in
    /// bits per token (reported where the absorbing prior reports its ELBO). T holds the unroll count per sample.</summary>
    public static PriorLoss Loss(PriorNetwork network, Tensor x0, int unroll, RowNoise noise)
    {
        if (unroll < 1) throw new SettingException(SettingNames.Unroll, "must be >= 1");
        using var scope = NewDisposeScope();
        var (b, k) = (x0.size(0), network.Config.CodebookSize);
        var tokens = Corrupt(x0, k, noise);
        var perSample = zeros(new[] { b }, float32, x0.device);
        for (var step = 0; step < unroll; step++)
        {
            var logits = network.forward(tokens);
            perSample = perSample + F.cross_entropy(logits.permute(0, 2, 1), x0, reduction: nn.Reduction.None).mean(1);
            if (step + 1 < unroll)
                using (no_grad())
                    tokens = noise.Categorical(logits.detach().softmax(-1));
        }
        perSample = perSample / unroll;
        return new PriorLoss(perSample.mean().MoveToOuterDisposeScope(), (perSample.detach() / Math.Log(2)).MoveToOuterDisposeScope(),
            full(new[] { b }, unroll, int64, x0.device).MoveToOuterDisposeScope());
    }
}
