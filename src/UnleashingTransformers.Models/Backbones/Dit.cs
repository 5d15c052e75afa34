using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// DiT's settings beyond the transformer's: the token grid it runs on (its sequence is the grid's patches)
/// and the patch side. Defaults: patch 1 (every token its own patch, as the paper's prior); DiT's own
/// image models use 2.
/// </summary>
public sealed record DitConfig(TransformerConfig Transformer, int GridHeight, int GridWidth, int Patch = 1)
{
    /// <summary>Frequencies of the sinusoidal time embedding, as DiT's TimestepEmbedder.</summary>
    public const int FrequencyDim = 256;

    public int Patches => GridHeight / Patch * (GridWidth / Patch);

    public void Validate()
    {
        Transformer.Validate();
        if (GridHeight * GridWidth != Transformer.BlockSize)
            throw new ArgumentException($"DiT grid {GridHeight}x{GridWidth} does not hold the window's {Transformer.BlockSize} tokens");
        if (Patch < 1 || GridHeight % Patch != 0 || GridWidth % Patch != 0)
            throw new ArgumentException($"--patch {Patch} does not divide the grid {GridHeight}x{GridWidth}");
    }
}

/// <summary>t_embedder: sinusoidal features of the time, then Linear, SiLU, Linear (mlp.0, mlp.2).</summary>
public sealed class TimestepEmbedder : nn.Module<Tensor, Tensor>
{
    public readonly nn.Sequential mlp;

    public TimestepEmbedder(int emb) =>
        mlp = register_module("mlp", new nn.Sequential(new nn.Linear(DitConfig.FrequencyDim, emb), new nn.SiLU(), new nn.Linear(emb, emb)));

    /// <summary>cos and sin of t at DitConfig.FrequencyDim / 2 geometric frequencies from 1 to 1/10000, (B, FrequencyDim).</summary>
    public static Tensor Sinusoid(Tensor t)
    {
        const int Half = DitConfig.FrequencyDim / 2;
        var freqs = (arange(Half, float32, t.device) * (-Math.Log(10000) / Half)).exp();
        var args = t.to(float32).unsqueeze(1) * freqs.unsqueeze(0);
        return cat(new[] { args.cos(), args.sin() }, -1);
    }

    public override Tensor forward(Tensor t) => mlp.forward(Sinusoid(t));
}

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
        mlp = register_module("mlp", new nn.Sequential(new nn.Linear(c.Emb, c.Hidden), new nn.GELU("tanh"), new nn.Linear(c.Hidden, c.Emb)));
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
/// blocks conditioned on the time, and a final layer giving p x p x K logits per patch, put back in grid order.
/// The time of an absorbing state is the share of its tokens still masked (the forward process masks each
/// with probability t/T), so it is read from the input: the denoiser keeps the prior's signature, ids to
/// logits. The modulations and the final linear map start at zero (adaLN-Zero): an untrained DiT is uniform.
/// </summary>
public sealed class Dit : PriorNetwork
{
    public DitConfig Settings { get; }
    public readonly nn.Embedding tok_emb;
    public readonly nn.Linear x_embedder;
    public readonly Parameter pos_emb;
    public readonly TimestepEmbedder t_embedder;
    public readonly nn.ModuleList<DitBlock> blocks;
    public readonly DitFinalLayer final_layer;

    public Dit(DitConfig settings)
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
    public override PriorBackbone Backbone => PriorBackbone.Dit;

    internal static Tensor Modulate(Tensor x, Tensor shift, Tensor scale) => x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);

    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        var (B, L) = (idx.size(0), idx.size(1));
        var c = Config;
        if (L != c.BlockSize) throw new ArgumentException($"DiT runs on its grid of {c.BlockSize} tokens, got {L}");
        var (p, gh, gw, E, K) = ((long)Settings.Patch, (long)Settings.GridHeight / Settings.Patch, (long)Settings.GridWidth / Settings.Patch, (long)c.Emb, (long)c.CodebookSize);
        var time = idx.eq(c.MaskId).to(float32).mean(1) * 1000;   // the share masked, on DiT's 0..1000 scale
        var cond = t_embedder.forward(time);
        var x = tok_emb.forward(idx).view(B, gh, p, gw, p, E).permute(0, 1, 3, 2, 4, 5).reshape(B, gh * gw, p * p * E);
        x = x_embedder.forward(x) + pos_emb;
        foreach (var block in blocks) x = block.forward((x, cond));
        var logits = final_layer.forward((x, cond));                                    // (B, patches, p p K)
        return logits.view(B, gh, gw, p, p, K).permute(0, 1, 3, 2, 4, 5).reshape(B, L, K).MoveToOuterDisposeScope();
    }
}
