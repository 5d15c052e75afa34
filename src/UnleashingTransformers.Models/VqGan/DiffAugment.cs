using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Differentiable augmentation, policy "color,translation" (the reference's models/diffaug.py; docs/vqgan.md), one random
/// draw per sample, in this order: brightness x + (u − ½); saturation (x − mean_c)·2u + mean_c; contrast
/// (x − mean)·(u + ½) + mean; translation by an integer shift in ±ratio·size with zero fill.
/// </summary>
public static class DiffAugment
{
    /// <summary>Augments each row of <paramref name="x"/> with draws from its row of <paramref name="noise"/>.</summary>
    public static Tensor Apply(Tensor x, Diffusion.RowNoise noise, double translationRatio = 0.125)
    {
        using var scope = NewDisposeScope();
        var (b, h, w) = (x.size(0), x.size(2), x.size(3));
        Tensor U() => noise.Rand(x.device, 1, 1, 1).to(x.dtype);
        x = x + (U() - 0.5);
        var meanC = x.mean(1, keepdim: true);
        x = (x - meanC) * (U() * 2) + meanC;
        var mean = x.mean(new long[] { 1, 2, 3 }, keepdim: true);
        x = (x - mean) * (U() + 0.5) + mean;

        var (sh, sw) = ((long)(h * translationRatio + 0.5), (long)(w * translationRatio + 0.5));
        var ty = noise.RandInt(-sh, sh + 1, x.device, 1, 1);
        var tx = noise.RandInt(-sw, sw + 1, x.device, 1, 1);
        var gy = (arange(h, int64, x.device).view(1, h, 1) + ty + 1).clamp(0, h + 1).expand(b, h, w);
        var gx = (arange(w, int64, x.device).view(1, 1, w) + tx + 1).clamp(0, w + 1).expand(b, h, w);
        var bi = arange(b, int64, x.device).view(b, 1, 1).expand(b, h, w);
        var padded = F.pad(x, new long[] { 1, 1, 1, 1 }).permute(0, 2, 3, 1);  // (B, H+2, W+2, C)
        return padded.index(bi, gy, gx).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }
}
