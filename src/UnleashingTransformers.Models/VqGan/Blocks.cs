using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.VqGan;

// The VQ-GAN's building blocks (models/vqgan.py, spec section 2.1).

internal static class Act
{
    /// <summary>normalize(C): GroupNorm with 32 groups and eps 1e-6 (not 1e-5).</summary>
    public static nn.GroupNorm Normalize(long channels) => new(32, channels, eps: 1e-6);

    /// <summary>swish(x) = x·sigmoid(x).</summary>
    public static Tensor Swish(Tensor x) => F.silu(x);
}

/// <summary>norm1 → swish → conv1 → norm2 → swish → conv2, plus the input (through the 1x1
/// <c>conv_out</c> when channels change). <c>conv_out</c> always exists, as in the reference's
/// checkpoints, even when unused.</summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor>
{
    public readonly long In, Out;
    public readonly nn.GroupNorm norm1, norm2;
    public readonly nn.Conv2d conv1, conv2, conv_out;

    public ResBlock(long inChannels, long outChannels)
    {
        (In, Out) = (inChannels, outChannels);
        norm1 = register_module("norm1", Act.Normalize(In));
        conv1 = register_module("conv1", new nn.Conv2d(In, Out, 3, padding: 1));
        norm2 = register_module("norm2", Act.Normalize(Out));
        conv2 = register_module("conv2", new nn.Conv2d(Out, Out, 3, padding: 1));
        conv_out = register_module("conv_out", new nn.Conv2d(In, Out, 1));
    }

    public override Tensor forward(Tensor x)
    {
        // One intermediate alive at a time: at 1024 px a 128-channel activation is 512 MB.
        var h = norm1.forward(x).Then(Act.Swish).Then(conv1.forward).Then(norm2.forward).Then(Act.Swish).Then(conv2.forward);
        if (In == Out) return h.add_(x);
        using var skip = conv_out.forward(x);
        return h.add_(skip);
    }
}

/// <summary>Single-head self-attention over the H·W positions, scaled by C^-0.5, with a residual.</summary>
public sealed class AttnBlock : nn.Module<Tensor, Tensor>
{
    public readonly nn.GroupNorm norm;
    public readonly nn.Conv2d q, k, v, proj_out;

    public AttnBlock(long channels)
    {
        norm = register_module("norm", Act.Normalize(channels));
        q = register_module("q", new nn.Conv2d(channels, channels, 1));
        k = register_module("k", new nn.Conv2d(channels, channels, 1));
        v = register_module("v", new nn.Conv2d(channels, channels, 1));
        proj_out = register_module("proj_out", new nn.Conv2d(channels, channels, 1));
    }

    public override Tensor forward(Tensor x)
    {
        var (b, c, hh, ww) = (x.size(0), x.size(1), x.size(2), x.size(3));
        Tensor o;
        using (var scope = NewDisposeScope())
        {
            var h = norm.forward(x);
            var qq = q.forward(h).reshape(b, c, hh * ww).permute(0, 2, 1);   // (b, hw, c)
            var kk = k.forward(h).reshape(b, c, hh * ww);                    // (b, c, hw)
            var w = qq.bmm(kk).mul_(Math.Pow(c, -0.5)).softmax(2);          // (b, hw_q, hw_k)
            var vv = v.forward(h).reshape(b, c, hh * ww);
            o = vv.bmm(w.permute(0, 2, 1)).reshape(b, c, hh, ww).MoveToOuterDisposeScope();
        }
        // x first: the sum takes x's memory layout (channels-last through the whole network).
        using var projected = proj_out.forward(o);
        o.Dispose();
        return x + projected;
    }
}

/// <summary>Zero-pad right and bottom by one, then a stride-2 3x3 convolution without padding.</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    public readonly nn.Conv2d conv;

    public Downsample(long channels) => conv = register_module("conv", new nn.Conv2d(channels, channels, 3, stride: 2));

    public override Tensor forward(Tensor x) => F.pad(x, new long[] { 0, 1, 0, 1 }).Then(conv.forward);
}

/// <summary>Nearest-neighbour x2, then a 3x3 convolution.</summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>
{
    public readonly nn.Conv2d conv;

    public Upsample(long channels) => conv = register_module("conv", new nn.Conv2d(channels, channels, 3, padding: 1));

    public override Tensor forward(Tensor x) => F.interpolate(x, scale_factor: new[] { 2.0, 2.0 }).Then(conv.forward);
}
