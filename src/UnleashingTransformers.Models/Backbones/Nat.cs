using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The neighborhood-attention prior's settings beyond the transformer's: the grid it was trained on (it runs
/// on any), the kernel side and one dilation per head group. Defaults as NAT Diffuser's: kernel 7, dilations
/// 1 and 2 (hydra: half the heads see the near cells, half a wider, sparser window).
/// </summary>
public sealed record NatConfig(TransformerConfig Transformer, int GridHeight, int GridWidth, int Kernel = NatConfig.DefaultKernel, int[]? Dilations = null)
{
    public const int DefaultKernel = 7;

    public int[] HeadDilations => Dilations ?? [1, 2];

    public void Validate()
    {
        Transformer.Validate();
        if (GridHeight * GridWidth != Transformer.BlockSize)
            throw new ArgumentException($"grid {GridHeight}x{GridWidth} does not hold the window's {Transformer.BlockSize} tokens");
        if (HeadDilations.Length == 0 || HeadDilations.Any(d => d < 1) || Transformer.Heads % HeadDilations.Length != 0)
            throw new ArgumentException($"--dilations {string.Join(",", HeadDilations)}: one positive dilation per head group, and the {Transformer.Heads} heads split evenly among them");
        if (Transformer.Emb / Transformer.Heads % 4 != 0)
            throw new ArgumentException($"--emb {Transformer.Emb} / --heads {Transformer.Heads}: 2-D rotary positions need a head size divisible by 4");
        foreach (var d in HeadDilations) Neighborhoods.Of(GridHeight, GridWidth, Kernel, d).Dispose();   // the trained grid must fit the neighbourhoods
    }
}

/// <summary>A pre-LN block with neighborhood attention (the transformer's block otherwise; same keys).</summary>
public sealed class NatBlock : nn.Module<(Tensor x, int height, int width), Tensor>
{
    public readonly nn.LayerNorm ln1, ln2;
    public readonly NeighborhoodAttention attn;
    public readonly nn.Sequential mlp;

    public NatBlock(NatConfig settings)
    {
        var c = settings.Transformer;
        ln1 = register_module("ln1", new nn.LayerNorm(c.Emb));
        attn = register_module("attn", new NeighborhoodAttention(c, settings.Kernel, settings.HeadDilations));
        ln2 = register_module("ln2", new nn.LayerNorm(c.Emb));
        mlp = register_module("mlp", new nn.Sequential(new nn.Linear(c.Emb, c.Hidden), new nn.GELU(), new nn.Linear(c.Hidden, c.Emb)));
    }

    public override Tensor forward((Tensor x, int height, int width) input)
    {
        var x = input.x + attn.forward((ln1.forward(input.x), input.height, input.width));
        return x + mlp.forward(ln2.forward(x));
    }
}

/// <summary>
/// The absorbing prior with neighborhood attention (NAT Diffuser, after Hassani et al.): the paper's transformer
/// with each block's attention restricted to a kernel x kernel neighbourhood in 2-D over the token grid, heads in
/// dilation groups, and rotary instead of learned positions. Nothing in it depends on the grid's size, so the
/// weights trained on small windows run on a whole large canvas in one pass a step (<c>ut generate --whole</c>),
/// the route to big images beside window aggregation. No time input, as the paper's prior.
/// </summary>
public sealed class Nat : PriorNetwork
{
    public NatConfig Settings { get; }
    public readonly nn.Embedding tok_emb;
    public readonly nn.ModuleList<NatBlock> blocks;
    public readonly nn.LayerNorm ln_f;
    public readonly nn.Linear head;

    public Nat(NatConfig settings)
    {
        settings.Validate();
        Settings = settings;
        var c = settings.Transformer;
        tok_emb = register_module("tok_emb", new nn.Embedding(c.VocabSize, c.Emb));
        blocks = register_module("blocks", new nn.ModuleList<NatBlock>(Enumerable.Range(0, c.Layers).Select(_ => new NatBlock(settings))));
        ln_f = register_module("ln_f", new nn.LayerNorm(c.Emb));
        head = register_module("head", new nn.Linear(c.Emb, c.CodebookSize, hasBias: false));
    }

    public override TransformerConfig Config => Settings.Transformer;
    public override PriorBackbone Backbone => PriorBackbone.Nat;
    public override (int Height, int Width)? Grid => (Settings.GridHeight, Settings.GridWidth);

    /// <summary>Logits on the trained grid.</summary>
    public override Tensor forward(Tensor idx) => forward(idx, Settings.GridHeight, Settings.GridWidth);

    /// <summary>Logits (B, H·W, K) for token grids of any <paramref name="height"/> x <paramref name="width"/>
    /// (each side at least kernel x the largest dilation).</summary>
    public Tensor forward(Tensor idx, int height, int width)
    {
        using var scope = NewDisposeScope();
        if (idx.size(1) != (long)height * width) throw new ArgumentException($"{idx.size(1)} tokens are not a {height}x{width} grid");
        var x = tok_emb.forward(idx);
        foreach (var block in blocks)
        {
            // Each layer's gathered neighbours (cells x K² x width) released before the next: on a whole
            // canvas they are the largest tensors of the pass.
            using var layer = NewDisposeScope();
            x = block.forward((x, height, width)).MoveToOuterDisposeScope();
        }
        return head.forward(ln_f.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>A denoiser over a grid of another size than the trained one: a whole canvas at once.</summary>
    public ITokenDenoiser DenoiserFor(int height, int width, Device device) => new NetworkDenoiser(idx => forward(idx, height, width), Config, height * width, device);

    public override (ITokenDenoiser denoiser, IDisposable? owned) Denoiser(InferencePrecision precision, Device device)
    {
        if (precision != InferencePrecision.Float32) throw new ArgumentException($"--precision {precision}: the nat backbone runs in float32 only");
        return (DenoiserFor(Settings.GridHeight, Settings.GridWidth, device), null);
    }
}
