using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>A flat block list run in order (the reference's Encoder / Generator bodies). Note there is
/// no activation between the final norm and the final conv, as in the reference.</summary>
public class BlockStack : nn.Module<Tensor, Tensor>
{
    public IReadOnlyList<BlockSpec> Specs { get; }
    public readonly nn.ModuleList<nn.Module<Tensor, Tensor>> blocks;

    public BlockStack(IReadOnlyList<BlockSpec> specs)
    {
        Specs = specs;
        blocks = register_module("blocks", new nn.ModuleList<nn.Module<Tensor, Tensor>>(specs.Select(Build)));
    }

    private static nn.Module<Tensor, Tensor> Build(BlockSpec s) => s.Kind switch
    {
        BlockKind.Conv => new nn.Conv2d(s.In, s.Out, s.Kernel, padding: s.Kernel / 2),
        BlockKind.Res => new ResBlock(s.In, s.Out),
        BlockKind.Attn => new AttnBlock(s.In),
        BlockKind.Down => new Downsample(s.In),
        BlockKind.Up => new Upsample(s.In),
        _ => Act.Normalize(s.In),
    };

    public override Tensor forward(Tensor x) => Run(x, blocks.Count);

    /// <summary>Runs the first <paramref name="count"/> blocks.</summary>
    protected Tensor Run(Tensor x, int count)
    {
        var h = x;
        for (var i = 0; i < count; i++)
        {
            var next = blocks[i].forward(h);
            if (!ReferenceEquals(h, x)) h.Dispose();
            h = next;
        }
        return ReferenceEquals(h, x) ? x.alias() : h;
    }
}

public sealed class Encoder(IReadOnlyList<BlockSpec> specs) : BlockStack(specs);

/// <summary>The decoder. <c>logsigma</c> (a per-pixel noise head used only by the reference's ELBO
/// script) is kept so checkpoints match key for key.</summary>
public sealed class Generator : BlockStack
{
    public readonly nn.Sequential logsigma;

    public Generator(IReadOnlyList<BlockSpec> specs) : base(specs)
    {
        var c = specs[^1].In;
        logsigma = register_module("logsigma", new nn.Sequential(
            new nn.Conv2d(c, c, 3, padding: 1), new nn.ReLU(), new nn.Conv2d(c, specs[^1].Out, 1)));
    }

    /// <summary>The last convolution, whose weight the adaptive GAN weight is measured at.</summary>
    public nn.Conv2d LastConv => (nn.Conv2d)blocks[blocks.Count - 1];
}

/// <summary>What the quantizer returns besides z_q.</summary>
public sealed record QuantizerStats(Tensor Indices, double Perplexity) : IDisposable
{
    public void Dispose() => Indices.Dispose();
}

/// <summary>
/// Nearest-neighbour vector quantiser (docs/vqgan.md): tokens in row-major (h, w) order; loss
/// mean((sg[z_q] − z)²) + β·mean((z_q − sg[z])²) (β on the codebook term: the reference's "legacy"
/// ordering); straight-through gradient z + sg(z_q − z).
/// </summary>
public sealed class VectorQuantizer : nn.Module<Tensor, Tensor>
{
    public readonly nn.Embedding embedding;
    public double Beta { get; }
    public long CodebookSize => embedding.weight.size(0);
    public long Dim => embedding.weight.size(1);

    public VectorQuantizer(long codebookSize, long dim, double beta = 0.25)
    {
        Beta = beta;
        embedding = register_module("embedding", new nn.Embedding(codebookSize, dim));
        using (no_grad()) embedding.weight.uniform_(-1.0 / codebookSize, 1.0 / codebookSize);
    }

    public override Tensor forward(Tensor z) => quantize(z).zq;

    /// <summary>Nearest codebook ids of z (B, D, H, W): (B, H·W) row-major.</summary>
    public Tensor indices(Tensor z)
    {
        using var scope = NewDisposeScope();
        var (b, d, h, w) = (z.size(0), z.size(1), z.size(2), z.size(3));
        var flat = z.permute(0, 2, 3, 1).reshape(-1, d);
        var e = embedding.weight;
        var dist = flat.pow(2).sum(1, keepdim: true) + e.pow(2).sum(1) - 2 * flat.matmul(e.t());
        return dist.argmin(1).view(b, h * w).MoveToOuterDisposeScope();
    }

    /// <summary>Codebook vectors of token ids (B, H, W) as (B, D, H, W).</summary>
    public Tensor embed(Tensor ids)
    {
        using var scope = NewDisposeScope();
        return F.embedding(ids, embedding.weight).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    public (Tensor zq, Tensor loss, QuantizerStats stats) quantize(Tensor z)
    {
        using var scope = NewDisposeScope();
        var (b, h, w) = (z.size(0), z.size(2), z.size(3));
        var ids = indices(z);
        var zq = embed(ids.view(b, h, w));
        var loss = (zq.detach() - z).pow(2).mean() + Beta * (zq - z.detach()).pow(2).mean();
        var st = z + (zq - z).detach();
        var meanOneHot = F.one_hot(ids.flatten(), CodebookSize).to(float32).mean(0);
        var perplexity = (-(meanOneHot * (meanOneHot + 1e-10).log()).sum()).exp().item<double>();
        return (st.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(), new QuantizerStats(ids.MoveToOuterDisposeScope(), perplexity));
    }
}

/// <summary>
/// The autoencoder (the reference's VQAutoEncoder, saved as <c>ae.*</c>). Activations run in
/// channels-last layout (same shapes, NHWC strides): oneDNN's CPU convolutions are ~25% faster so
/// (measured in bench/), and the reference's decoder gets the same layout from its permuted embedding.
/// </summary>
public sealed class VqAutoEncoder : nn.Module<Tensor, Tensor>
{
    public readonly Encoder encoder;
    public readonly VectorQuantizer quantize;
    public readonly Generator generator;

    public VqAutoEncoder(IReadOnlyList<BlockSpec> encoderSpecs, IReadOnlyList<BlockSpec> generatorSpecs, long codebookSize, double beta = 0.25)
    {
        encoder = register_module("encoder", new Encoder(encoderSpecs));
        quantize = register_module("quantize", new VectorQuantizer(codebookSize, encoderSpecs[^1].Out, beta));
        generator = register_module("generator", new Generator(generatorSpecs));
    }

    public static VqAutoEncoder FromConfig(VqGanConfig c)
    {
        c.Validate();
        return new VqAutoEncoder(BlockLists.Encoder(c), BlockLists.Generator(c), c.CodebookSize, c.Beta);
    }

    /// <summary>Pixels per token side.</summary>
    public int Downscale => 1 << encoder.Specs.Count(s => s.Kind == BlockKind.Down);

    public override Tensor forward(Tensor x) => reconstruct(x).xhat;

    public (Tensor xhat, Tensor codebookLoss, QuantizerStats stats) reconstruct(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (zq, loss, stats) = quantize.quantize(encoder.forward(x.contiguous(MemoryFormat.ChannelsLast)));
        stats.Indices.MoveToOuterDisposeScope();
        return (generator.forward(zq).MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(), stats);
    }

    /// <summary>Images (B, 3, H, W) in [0, 1] to token ids (B, H/f · W/f), row-major.</summary>
    public Tensor encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return quantize.indices(encoder.forward(x.contiguous(MemoryFormat.ChannelsLast))).MoveToOuterDisposeScope();
    }

    /// <summary>Token ids (B, h, w) to images (B, 3, h·f, w·f), unclamped as the reference.</summary>
    public Tensor decode(Tensor ids)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return generator.forward(quantize.embed(ids).contiguous(MemoryFormat.ChannelsLast)).MoveToOuterDisposeScope();
    }
}

/// <summary>PatchGAN discriminator (docs/vqgan.md): strided 4x4 convs, BatchNorm, LeakyReLU(0.2).</summary>
public sealed class Discriminator : nn.Module<Tensor, Tensor>
{
    public readonly nn.Sequential main;

    public Discriminator(long channels = 3, long ndf = 64, int layers = 3)
    {
        var seq = new nn.Sequential(new nn.Conv2d(channels, ndf, 4, stride: 2, padding: 1), new nn.LeakyReLU(0.2));
        long mult = 1;
        for (var n = 1; n < layers; n++)
        {
            var prev = mult;
            mult = Math.Min(1L << n, 8);
            seq.append(new nn.Conv2d(ndf * prev, ndf * mult, 4, stride: 2, padding: 1, hasBias: false))
               .append(new nn.BatchNorm2d(ndf * mult)).append(new nn.LeakyReLU(0.2));
        }
        var last = mult;
        mult = Math.Min(1L << layers, 8);
        seq.append(new nn.Conv2d(ndf * last, ndf * mult, 4, stride: 1, padding: 1, hasBias: false))
           .append(new nn.BatchNorm2d(ndf * mult)).append(new nn.LeakyReLU(0.2))
           .append(new nn.Conv2d(ndf * mult, 1, 4, stride: 1, padding: 1));
        main = register_module("main", seq);
    }

    public override Tensor forward(Tensor x) => main.forward(x);

    /// <summary>The side of the logit map for a square input (0 or less: too many layers for it).</summary>
    public static long OutputSize(long input, int layers)
    {
        var s = input;
        for (var n = 0; n < layers; n++) s = (s + 2 - 4) / 2 + 1;   // stride-2 4x4 convs, padding 1
        return s - 1 - 1;                                           // two stride-1 4x4 convs, padding 1
    }
}

/// <summary>The whole trainable VQ-GAN (reference VQGAN: <c>ae.*</c> and <c>disc.*</c>).</summary>
public sealed class VqGanModel : nn.Module<Tensor, Tensor>
{
    public readonly VqAutoEncoder ae;
    public readonly Discriminator disc;

    public VqGanModel(VqAutoEncoder autoencoder, Discriminator discriminator)
    {
        ae = register_module("ae", autoencoder);
        disc = register_module("disc", discriminator);
    }

    public override Tensor forward(Tensor x) => ae.forward(x);
}
