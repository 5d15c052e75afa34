using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>A DiT block with adaLN-Zero: the condition sets shift, scale and gate of the attention and the MLP.</summary>
public sealed class DitBlock : nn.Module<(Tensor x, Tensor c), Tensor>
{
    public readonly nn.LayerNorm norm1, norm2;
    public readonly SelfAttention attn;
    public readonly nn.Sequential mlp, adaLN_modulation;

    public DitBlock(TransformerConfig c)
    {
        norm1 = register_module("norm1", new nn.LayerNorm(c.Emb, eps: 1e-6, elementwise_affine: false));
        attn = register_module("attn", new SelfAttention(c));
        norm2 = register_module("norm2", new nn.LayerNorm(c.Emb, eps: 1e-6, elementwise_affine: false));
        mlp = register_module("mlp", FeedForward.Of(c, gelu: "tanh"));
        adaLN_modulation = register_module("adaLN_modulation", new nn.Sequential(new nn.SiLU(), new nn.Linear(c.Emb, 6 * c.Emb)));
    }

    public override Tensor forward((Tensor x, Tensor c) input)
    {
        var (x, c) = input;
        var m = adaLN_modulation.forward(c).chunk(6, 1);
        x = x + m[2].unsqueeze(1) * attn.forward(Dit.Modulate(norm1.forward(x), m[0], m[1]));
        return x + m[5].unsqueeze(1) * mlp.forward(Dit.Modulate(norm2.forward(x), m[3], m[4]));
    }
}

/// <summary>final_layer: adaLN-modulated norm, then a linear map to every patch token's logits.</summary>
public sealed class DitFinalLayer : nn.Module<(Tensor x, Tensor c), Tensor>
{
    public readonly nn.LayerNorm norm_final;
    public readonly nn.Linear linear;
    public readonly nn.Sequential adaLN_modulation;

    public DitFinalLayer(int emb, int outputs)
    {
        norm_final = register_module("norm_final", new nn.LayerNorm(emb, eps: 1e-6, elementwise_affine: false));
        linear = register_module("linear", new nn.Linear(emb, outputs));
        adaLN_modulation = register_module("adaLN_modulation", new nn.Sequential(new nn.SiLU(), new nn.Linear(emb, 2 * emb)));
    }

    public override Tensor forward((Tensor x, Tensor c) input)
    {
        var m = adaLN_modulation.forward(input.c).chunk(2, 1);
        return linear.forward(Dit.Modulate(norm_final.forward(input.x), m[0], m[1]));
    }
}

/// <summary>
/// DiT (Peebles and Xie 2023, "Scalable Diffusion Models with Transformers") as an absorbing prior's denoiser:
/// the token grid's embeddings cut into p x p patches (x_embedder), a learned position per patch, adaLN-Zero
/// blocks conditioned on the time (<see cref="VitConfig.Time"/>: the share masked), and a final layer giving
/// p x p x K logits per patch, put back in grid order. The modulations and the final linear map start at zero (adaLN-Zero): an untrained DiT is uniform.
/// </summary>
public sealed class Dit : PriorNetwork
{
    public VitConfig Settings { get; }
    public readonly nn.Embedding tok_emb;
    public readonly nn.Linear x_embedder;
    public readonly Parameter pos_emb;
    public readonly TimestepEmbedder t_embedder;
    public readonly nn.ModuleList<DitBlock> blocks;
    public readonly DitFinalLayer final_layer;

    public Dit(VitConfig settings)
    {
        settings.Validate();
        Settings = settings;
        var c = settings.Transformer;
        var p2 = settings.Patch * settings.Patch;
        tok_emb = register_module("tok_emb", new nn.Embedding(c.VocabSize, c.Emb));
        x_embedder = register_module("x_embedder", new nn.Linear(p2 * c.Emb, c.Emb));
        pos_emb = register_parameter("pos_emb", new Parameter(zeros(1, settings.Patches, c.Emb)));
        t_embedder = register_module("t_embedder", new TimestepEmbedder(c.Emb));
        blocks = register_module("blocks", new nn.ModuleList<DitBlock>(Enumerable.Range(0, c.Layers).Select(_ => new DitBlock(c))));
        final_layer = register_module("final_layer", new DitFinalLayer(c.Emb, p2 * c.CodebookSize));
        using var noGrad = no_grad();
        foreach (var block in blocks) ZeroLinear((nn.Linear)block.adaLN_modulation[1]);
        ZeroLinear((nn.Linear)final_layer.adaLN_modulation[1]);
        ZeroLinear(final_layer.linear);
    }

    private static void ZeroLinear(nn.Linear l)
    {
        l.weight.zero_();
        l.bias?.zero_();
    }

    public override TransformerConfig Config => Settings.Transformer;
    public override PriorBackbone Backbone => DitBackbone.Instance;
    public override (int Height, int Width)? Grid => (Settings.GridHeight, Settings.GridWidth);

    internal static Tensor Modulate(Tensor x, Tensor shift, Tensor scale) => x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);

    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        var (L, c) = (idx.size(1), Config);
        if (L != c.BlockSize) throw new ArgumentException($"DiT runs on its grid of {c.BlockSize} tokens, got {L}");
        var cond = t_embedder.forward(Settings.Time(idx));
        var x = x_embedder.forward(Settings.Patchify(tok_emb.forward(idx))) + pos_emb;
        foreach (var block in blocks) x = block.forward((x, cond));
        return Settings.Unpatchify(final_layer.forward((x, cond))).MoveToOuterDisposeScope();
    }
}

/// <summary>DiT as a backbone (<c>--model dit</c>).</summary>
public sealed class DitBackbone : PriorBackbone
{
    public static readonly DitBackbone Instance = new();

    public override string Name => "dit";
    public override string Description => "dit (adaLN-Zero blocks; takes the time as the share masked)";
    public override IReadOnlyList<string> Settings => [SettingNames.Patch];

    public override PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) =>
        new Dit(new VitConfig(config, gridHeight, gridWidth, options.Patch));

    public override void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) =>
        new VitConfig(config, gridHeight, gridWidth, options.Patch).Validate();

    public override PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry) => new Dit(VitConfig.FromStateDict(sd, heads, entry, uvit: false));
}
