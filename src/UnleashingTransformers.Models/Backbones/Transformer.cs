using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>Multi-head self-attention, non-causal (models/transformer.py CausalSelfAttention in
/// absorbing mode). Separate key/query/value projections as the reference, so its keys load.</summary>
public sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    private readonly double _attnPdrop, _residPdrop;
    public readonly nn.Linear key, query, value, proj;

    public SelfAttention(TransformerConfig c)
    {
        _heads = c.Heads;
        _attnPdrop = c.AttnPdrop;
        _residPdrop = c.ResidPdrop;
        key = register_module("key", new nn.Linear(c.Emb, c.Emb));
        query = register_module("query", new nn.Linear(c.Emb, c.Emb));
        value = register_module("value", new nn.Linear(c.Emb, c.Emb));
        proj = register_module("proj", new nn.Linear(c.Emb, c.Emb));
    }

    public override Tensor forward(Tensor x)
    {
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var hs = C / _heads;
        var k = key.forward(x).view(B, T, _heads, hs).transpose(1, 2);   // (B, nh, T, hs)
        var q = query.forward(x).view(B, T, _heads, hs).transpose(1, 2);
        var v = value.forward(x).view(B, T, _heads, hs).transpose(1, 2);
        var att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(hs));
        att = F.dropout(att.softmax(-1), _attnPdrop, training);
        var y = att.matmul(v).transpose(1, 2).contiguous().view(B, T, C);
        return F.dropout(proj.forward(y), _residPdrop, training);
    }
}

/// <summary>A pre-LN transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)).</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    public readonly nn.LayerNorm ln1, ln2;
    public readonly SelfAttention attn;
    public readonly nn.Sequential mlp;

    public Block(TransformerConfig c)
    {
        ln1 = register_module("ln1", new nn.LayerNorm(c.Emb));
        ln2 = register_module("ln2", new nn.LayerNorm(c.Emb));
        attn = register_module("attn", new SelfAttention(c));
        // mlp.0 / mlp.2 are the reference's keys: Linear, GELU (exact), Linear, Dropout.
        mlp = register_module("mlp", FeedForward.Of(c, dropout: c.ResidPdrop));
    }

    public override Tensor forward(Tensor x) => PreLayerNorm.Residual(x, ln1, attn.forward, ln2, mlp);
}

/// <summary>
/// The absorbing prior's denoiser (the reference's <c>Transformer</c>, held as <c>_denoise_fn</c>):
/// token ids (B, L) with mask id = codebook size, to logits over the codebook (B, L, K). No time input.
/// </summary>
public sealed class Transformer : PriorNetwork
{
    public override TransformerConfig Config { get; }
    public override PriorBackbone Backbone => TransformerBackbone.Instance;
    public readonly nn.Embedding tok_emb;
    public readonly Parameter pos_emb, start_tok;
    public readonly nn.ModuleList<Block> blocks;
    public readonly nn.LayerNorm ln_f;
    public readonly nn.Linear head;

    public Transformer(TransformerConfig c)
    {
        c.Validate();
        Config = c;
        tok_emb = register_module("tok_emb", new nn.Embedding(c.VocabSize, c.Emb));
        pos_emb = register_parameter("pos_emb", new Parameter(zeros(1, c.BlockSize, c.Emb)));
        // Saved by the reference but unused in absorbing mode; kept so checkpoints match key for key.
        start_tok = register_parameter("start_tok", new Parameter(zeros(1, 1, c.Emb)));
        blocks = register_module("blocks", new nn.ModuleList<Block>(Enumerable.Range(0, c.Layers).Select(_ => new Block(c))));
        ln_f = register_module("ln_f", new nn.LayerNorm(c.Emb));
        head = register_module("head", new nn.Linear(c.Emb, c.CodebookSize, hasBias: false));
    }

    /// <summary>Logits at every position, exactly as the reference computes them.</summary>
    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        return head.forward(hidden(idx)).MoveToOuterDisposeScope();
    }

    /// <summary>The fused inference path (<see cref="TransformerInference"/>): the same function, faster.</summary>
    public override (ITokenDenoiser denoiser, IDisposable? owned) Denoiser(InferencePrecision precision, Device device)
    {
        var inference = new TransformerInference(this, precision);
        return (new TransformerDenoiser(inference, device), inference);
    }

    /// <summary>The final hidden states after ln_f, (B, L, D).</summary>
    public Tensor hidden(Tensor idx)
    {
        using var scope = NewDisposeScope();
        var L = idx.size(1);
        if (L > Config.BlockSize) throw new ArgumentException($"sequence of {L} tokens is longer than the block size {Config.BlockSize}");
        var x = tok_emb.forward(idx) + pos_emb[.., ..(int)L];
        x = F.dropout(x, Config.EmbdPdrop, training);
        foreach (var block in blocks) x = block.forward(x);
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>The paper's transformer as a backbone (<c>--model transformer</c>, the default): a flat sequence, no grid,
/// nothing recorded (the paper's files are read as they are, heads given or the reference's 8).</summary>
public sealed class TransformerBackbone : PriorBackbone
{
    public static readonly TransformerBackbone Instance = new();

    public override string Name => "transformer";
    public override string Description => "transformer (the paper's)";
    public override bool OnGrid => false;

    public override PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) => new Transformer(config);

    public override void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) { }

    public override PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry) => new Transformer(TransformerConfig.FromStateDict(sd, heads));
}
