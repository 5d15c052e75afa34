using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>The VQ-GAN's hyperparameters; defaults are the reference's (vqgan_defaults.py).</summary>
public sealed record VqGanConfig(
    int Resolution = 256,
    int Channels = 3,
    int Nf = 128,
    int[]? ChMult = null,
    int ResBlocks = 2,
    int[]? AttnResolutions = null,
    int EmbDim = 256,
    int CodebookSize = 1024,
    double Beta = 0.25,
    int DiscLayers = 3,
    int Ndf = 64)
{
    public int[] Mult => ChMult ?? new[] { 1, 1, 2, 2, 4 };
    public int[] Attn => AttnResolutions ?? new[] { 16 };

    /// <summary>Pixels per token side: 2^(levels − 1).</summary>
    public int Downscale => 1 << (Mult.Length - 1);

    public void Validate()
    {
        if (Mult.Any(m => m < 1) || Nf < 1 || ResBlocks < 1 || EmbDim < 1 || CodebookSize < 2)
            throw new ArgumentException($"bad VQ-GAN config: {this}");
        if (Mult.Any(m => Nf * m % 32 != 0))
            throw new ArgumentException("VQ-GAN channel counts must be multiples of 32 (GroupNorm with 32 groups)");
        if (Resolution % Downscale != 0)
            throw new ArgumentException($"resolution {Resolution} is not a multiple of {Downscale}");
    }
}

/// <summary>One entry of the encoder's or generator's flat block list.</summary>
public enum BlockKind { Conv, Res, Attn, Down, Up, Norm }

public sealed record BlockSpec(BlockKind Kind, long In, long Out = 0, long Kernel = 3);

/// <summary>
/// The block lists of the reference's Encoder and Generator (docs/vqgan.md), from a config,
/// or read back from a checkpoint's keys and shapes (a ResBlock has conv1, an AttnBlock q, a resampler
/// conv, a plain conv a 4-D weight, a norm a 1-D weight), so loading needs no architecture flags.
/// </summary>
public static class BlockLists
{
    public static List<BlockSpec> Encoder(VqGanConfig c)
    {
        var blocks = new List<BlockSpec> { new(BlockKind.Conv, c.Channels, c.Nf) };
        var res = c.Resolution;
        var inMult = new[] { 1 }.Concat(c.Mult).ToArray();
        long blockIn = 0;
        for (var i = 0; i < c.Mult.Length; i++)
        {
            blockIn = c.Nf * inMult[i];
            long blockOut = c.Nf * c.Mult[i];
            for (var r = 0; r < c.ResBlocks; r++)
            {
                blocks.Add(new(BlockKind.Res, blockIn, blockOut));
                blockIn = blockOut;
                if (c.Attn.Contains(res)) blocks.Add(new(BlockKind.Attn, blockIn));
            }
            if (i != c.Mult.Length - 1)
            {
                blocks.Add(new(BlockKind.Down, blockIn));
                res /= 2;
            }
        }
        blocks.Add(new(BlockKind.Res, blockIn, blockIn));
        blocks.Add(new(BlockKind.Attn, blockIn));
        blocks.Add(new(BlockKind.Res, blockIn, blockIn));
        blocks.Add(new(BlockKind.Norm, blockIn));
        blocks.Add(new(BlockKind.Conv, blockIn, c.EmbDim));
        return blocks;
    }

    public static List<BlockSpec> Generator(VqGanConfig c)
    {
        long blockIn = c.Nf * c.Mult[^1];
        var res = c.Resolution / c.Downscale;
        var blocks = new List<BlockSpec>
        {
            new(BlockKind.Conv, c.EmbDim, blockIn),
            new(BlockKind.Res, blockIn, blockIn), new(BlockKind.Attn, blockIn), new(BlockKind.Res, blockIn, blockIn),
        };
        for (var i = c.Mult.Length - 1; i >= 0; i--)
        {
            long blockOut = c.Nf * c.Mult[i];
            for (var r = 0; r < c.ResBlocks; r++)
            {
                blocks.Add(new(BlockKind.Res, blockIn, blockOut));
                blockIn = blockOut;
                if (c.Attn.Contains(res)) blocks.Add(new(BlockKind.Attn, blockIn));
            }
            if (i != 0)
            {
                blocks.Add(new(BlockKind.Up, blockIn));
                res *= 2;
            }
        }
        blocks.Add(new(BlockKind.Norm, blockIn));
        blocks.Add(new(BlockKind.Conv, blockIn, c.Channels));
        return blocks;
    }

    /// <summary>Reads a block list back from state-dict keys under <paramref name="prefix"/>
    /// ("ae.encoder.blocks."); <paramref name="resample"/> says what a "conv" block is there.</summary>
    public static List<BlockSpec> FromStateDict(IReadOnlyDictionary<string, Tensor> sd, string prefix, BlockKind resample)
    {
        var blocks = new List<BlockSpec>();
        for (var i = 0; ; i++)
        {
            var p = $"{prefix}{i}.";
            if (sd.TryGetValue(p + "conv1.weight", out var c1))
                blocks.Add(new(BlockKind.Res, c1.size(1), c1.size(0)));
            else if (sd.TryGetValue(p + "q.weight", out var q))
                blocks.Add(new(BlockKind.Attn, q.size(0)));
            else if (sd.TryGetValue(p + "conv.weight", out var cv))
                blocks.Add(new(resample, cv.size(0)));
            else if (sd.TryGetValue(p + "weight", out var w))
                blocks.Add(w.dim() == 4 ? new(BlockKind.Conv, w.size(1), w.size(0), w.size(2)) : new(BlockKind.Norm, w.size(0)));
            else break;
        }
        return blocks;
    }
}
