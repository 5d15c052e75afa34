using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>A UViT block: the transformer's pre-LN block, after (in the second half) a long skip joined by
/// a linear map of [x, skip] back to the width.</summary>
public sealed class UvitBlock : nn.Module<(Tensor x, Tensor? skip), Tensor>
{
    public readonly nn.Linear? skip_linear;
    public readonly nn.LayerNorm ln1, ln2;
    public readonly SelfAttention attn;
    public readonly nn.Sequential mlp;

    public UvitBlock(TransformerConfig c, bool skip)
    {
        if (skip) skip_linear = register_module("skip_linear", new nn.Linear(2 * c.Emb, c.Emb));
        ln1 = register_module("ln1", new nn.LayerNorm(c.Emb));
        attn = register_module("attn", new SelfAttention(c));
        ln2 = register_module("ln2", new nn.LayerNorm(c.Emb));
        mlp = register_module("mlp", FeedForward.Of(c));
    }

    public override Tensor forward((Tensor x, Tensor? skip) input)
    {
        var x = skip_linear is null ? input.x : skip_linear.forward(cat(new[] { input.x, input.skip! }, -1));
        return PreLayerNorm.Residual(x, ln1, attn.forward, ln2, mlp);
    }
}

/// <summary>
/// UViT (Bao et al. 2023, "All are Worth Words: A ViT Backbone for Diffusion Models") as an absorbing prior's
/// denoiser: the time (<see cref="VitConfig.Time"/>: the share masked) is one more token in front of the patch
/// tokens; Layers / 2 blocks in, one in the middle, Layers / 2 out, each out block joined to the matching in
/// block by a long skip; then a norm and a linear map to p x p x K logits per patch (the time token dropped).
/// </summary>
public sealed class Uvit : PriorNetwork
{
    public VitConfig Settings { get; }
    public readonly nn.Embedding tok_emb;
    public readonly nn.Linear x_embedder, decoder_pred;
    public readonly Parameter pos_emb;
    public readonly TimestepEmbedder time_embed;
    public readonly nn.ModuleList<UvitBlock> in_blocks, out_blocks;
    public readonly UvitBlock mid_block;
    public readonly nn.LayerNorm norm;

    /// <summary>Throws when UViT cannot be built on these settings: its blocks come in pairs around the middle one.</summary>
    public static void Validate(VitConfig settings)
    {
        settings.Validate();
        if (settings.Transformer.Layers % 2 != 0)
            throw new SettingException(SettingNames.Layers, $"{settings.Transformer.Layers}: UViT has N/2 blocks in and N/2 out (and one in the middle): give an even N");
    }

    public Uvit(VitConfig settings)
    {
        Validate(settings);
        Settings = settings;
        var c = settings.Transformer;
        var p2 = settings.Patch * settings.Patch;
        var half = c.Layers / 2;
        tok_emb = register_module("tok_emb", new nn.Embedding(c.VocabSize, c.Emb));
        x_embedder = register_module("x_embedder", new nn.Linear(p2 * c.Emb, c.Emb));
        time_embed = register_module("time_embed", new TimestepEmbedder(c.Emb));
        pos_emb = register_parameter("pos_emb", new Parameter(zeros(1, 1 + settings.Patches, c.Emb)));
        in_blocks = register_module("in_blocks", new nn.ModuleList<UvitBlock>(Enumerable.Range(0, half).Select(_ => new UvitBlock(c, skip: false))));
        mid_block = register_module("mid_block", new UvitBlock(c, skip: false));
        out_blocks = register_module("out_blocks", new nn.ModuleList<UvitBlock>(Enumerable.Range(0, half).Select(_ => new UvitBlock(c, skip: true))));
        norm = register_module("norm", new nn.LayerNorm(c.Emb));
        decoder_pred = register_module("decoder_pred", new nn.Linear(c.Emb, p2 * c.CodebookSize));
    }

    public override TransformerConfig Config => Settings.Transformer;
    public override PriorBackbone Backbone => UvitBackbone.Instance;
    public override (int Height, int Width)? Grid => (Settings.GridHeight, Settings.GridWidth);

    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        if (idx.size(1) != Config.BlockSize) throw new ArgumentException($"UViT runs on its grid of {Config.BlockSize} tokens, got {idx.size(1)}");
        var time = time_embed.forward(Settings.Time(idx)).unsqueeze(1);
        var x = cat(new[] { time, x_embedder.forward(Settings.Patchify(tok_emb.forward(idx))) }, 1) + pos_emb;
        var skips = new Stack<Tensor>();
        foreach (var block in in_blocks)
        {
            x = block.forward((x, null));
            skips.Push(x);
        }
        x = mid_block.forward((x, null));
        foreach (var block in out_blocks) x = block.forward((x, skips.Pop()));
        var logits = decoder_pred.forward(norm.forward(x));
        return Settings.Unpatchify(logits.narrow(1, 1, Settings.Patches)).MoveToOuterDisposeScope();
    }
}

/// <summary>UViT as a backbone (<c>--model uvit</c>).</summary>
public sealed class UvitBackbone : PriorBackbone
{
    public static readonly UvitBackbone Instance = new();

    public override string Name => "uvit";
    public override string Description => "uvit (time as a token, long skips; takes the time as the share masked)";
    public override IReadOnlyList<string> Settings => [SettingNames.Patch];

    public override PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) =>
        new Uvit(new VitConfig(config, gridHeight, gridWidth, options.Patch));

    public override void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) =>
        Uvit.Validate(new VitConfig(config, gridHeight, gridWidth, options.Patch));

    public override PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry) => new Uvit(VitConfig.FromStateDict(sd, heads, entry, uvit: true));
}
