using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// NAT Diffuser's attention (<c>Hydra1DNeighborhoodAttention</c> in justin4ai/NAT-Diffuser's models/transformer.py,
/// as of its last commit): 1-D neighbourhoods over the flattened token sequence, the heads in groups, one dilation
/// each (theirs: kernel 7, dilations 1, 4, 8, 16), queries and keys (not values) turned by a 1-D rotary embedding
/// of their sequence position over the first 32 channels of each head, scaled dot products softmaxed over each
/// query's kernel neighbours. Two things are as their code has them so that their weights give their outputs:
/// the groups' outputs, each (B, T, heads/groups, hs), are concatenated along the sequence axis and then reshaped
/// to (B, T, C), so a cell's row holds four consecutive cells' outputs of one group; and the relative position
/// biases (<c>rpb</c>) their module builds but does not use are kept, as buffers, for their keys. In libtorch
/// operations, gathering each query's neighbours (NATTEN is not available here).
/// </summary>
public sealed class FlatNeighborhoodAttention : nn.Module<(Tensor x, int height, int width), Tensor>
{
    /// <summary>NAT Diffuser's <c>RotaryEmbedding(dim = 32)</c>.</summary>
    public const int RotaryChannels = 32;

    private readonly int _heads, _kernel;
    private readonly int[] _dilations;
    private readonly Dictionary<(int, int), Tensor> _neighbours = new();
    public readonly nn.Linear key, query, value, proj;
    public readonly RelativeBiases rpb;
    public readonly SequenceRotary rotary_emb;

    public FlatNeighborhoodAttention(TransformerConfig c, int kernel, int[] dilations)
    {
        (_heads, _kernel, _dilations) = (c.Heads, kernel, dilations);
        key = register_module("key", new nn.Linear(c.Emb, c.Emb));
        query = register_module("query", new nn.Linear(c.Emb, c.Emb));
        value = register_module("value", new nn.Linear(c.Emb, c.Emb));
        proj = register_module("proj", new nn.Linear(c.Emb, c.Emb));
        rpb = register_module("rpb", new RelativeBiases(dilations.Length, c.Heads / dilations.Length + 1, 2 * kernel - 1));
        rotary_emb = register_module("rotary_emb", new SequenceRotary(Math.Min(RotaryChannels, c.Emb / c.Heads)));
    }

    private Tensor NeighboursOf(int length, int dilation, Device device)
    {
        if (!_neighbours.TryGetValue((length, dilation), out var index))
        {
            index = Neighborhoods.Along(length, _kernel, dilation).flatten().to(device).DetachFromDisposeScope();
            _neighbours[(length, dilation)] = index;
        }
        return index;
    }

    public override Tensor forward((Tensor x, int height, int width) input)
    {
        var x = input.x;
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var hs = C / _heads;
        Tensor Heads(nn.Linear l) => l.forward(x).view(B, T, _heads, hs).transpose(1, 2);   // (B, nh, T, hs)
        var angles = rotary_emb.Angles((int)T);
        var q = RotaryPairs.Apply(Heads(query), angles) * (1.0 / Math.Sqrt(hs));
        var k = RotaryPairs.Apply(Heads(key), angles);
        var v = Heads(value);
        var perGroup = _heads / _dilations.Length;
        var groups = new List<Tensor>();
        for (var g = 0; g < _dilations.Length; g++)
        {
            var index = NeighboursOf((int)T, _dilations[g], x.device);                          // (T·kernel)
            var (qg, kg, vg) = (q.narrow(1, g * perGroup, perGroup), k.narrow(1, g * perGroup, perGroup), v.narrow(1, g * perGroup, perGroup));
            groups.Add(NeighborhoodAttention.Attend(qg, kg, vg, index, _kernel).transpose(1, 2));   // (B, T, g, hs), NATTEN's layout
        }
        // Their torch.cat(attention, dim=1) joins the groups along the sequence, then reshape(B, T, C).
        var y = cat(groups, 1).contiguous().view(B, T, C);
        return proj.forward(y);
    }

    public override void Dispose()
    {
        foreach (var t in _neighbours.Values) t.Dispose();
        _neighbours.Clear();
        base.Dispose();
    }
}

/// <summary>rotary-embedding-torch's <c>RotaryEmbedding(dim)</c> for language (<c>freqs_for="lang"</c>): frequencies
/// 10000^(-2i/dim), i &lt; dim/2, a buffer as their checkpoints hold it; positions 0 … n-1 of the sequence.</summary>
public sealed class SequenceRotary : nn.Module
{
    public readonly Tensor freqs;

    public SequenceRotary(int dim)
    {
        if (dim < 2 || dim % 2 != 0) throw new ArgumentException($"a rotary embedding over {dim} channels: it needs an even number, at least 2 (a head size of 2 or more, even)");
        freqs = register_buffer("freqs", (arange(dim / 2, float32) * (-2.0 * Math.Log(10000) / dim)).exp());
    }

    /// <summary>cos and sin of position·frequency, (n, dim), for <see cref="RotaryPairs.Apply"/>.</summary>
    public (Tensor cos, Tensor sin) Angles(int length)
    {
        var f = freqs.to(float32);
        var angles = RotaryPairs.Interleaved(arange(length, float32, f.device).unsqueeze(1) * f);
        return (angles.cos(), angles.sin());
    }
}

/// <summary>NAT Diffuser's relative position biases, one (heads/groups + 1, 2·kernel - 1, 2·kernel - 1) a head group,
/// keys <c>rpb.0</c> …: built by their module, not used by its forward (<c>use_rpb = False</c>); kept as buffers so
/// their files load and ours load in their code.</summary>
public sealed class RelativeBiases : nn.Module
{
    public RelativeBiases(int groups, int rows, int side)
    {
        for (var g = 0; g < groups; g++) register_buffer(g.ToString(System.Globalization.CultureInfo.InvariantCulture), zeros(rows, side, side));
    }
}
