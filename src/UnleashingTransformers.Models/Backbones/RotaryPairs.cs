using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// Rotary embedding as rotary-embedding-torch applies it (SUNDAE's hourglass and NAT Diffuser use it): channel pairs
/// (2i, 2i+1) turned by an angle each, each frequency repeated for its pair, only the first channels the angles
/// cover; the rest pass through. A query-key product of two turned vectors then depends on their offset only.
/// </summary>
public static class RotaryPairs
{
    /// <summary>Rotates the first channels of <paramref name="t"/> (…, n, C) by the angles (n, rot): out[2i] =
    /// t[2i]·cos - t[2i+1]·sin, out[2i+1] = t[2i+1]·cos + t[2i]·sin.</summary>
    public static Tensor Apply(Tensor t, (Tensor cos, Tensor sin) angles)
    {
        var rot = angles.cos.size(-1);
        var (head, rest) = (t.narrow(-1, 0, rot), t.narrow(-1, rot, t.size(-1) - rot));
        var pairs = head.reshape([.. head.shape[..^1], rot / 2, 2]).unbind(-1);
        var half = stack(new[] { -pairs[1], pairs[0] }, -1).flatten(-2);
        return cat(new[] { head * angles.cos + half * angles.sin, rest }, -1);
    }

    /// <summary>Angles (n, f) with each repeated for its pair: (n, 2f).</summary>
    public static Tensor Interleaved(Tensor angles) => angles.unsqueeze(-1).expand(angles.size(0), angles.size(1), 2).flatten(-2);
}
