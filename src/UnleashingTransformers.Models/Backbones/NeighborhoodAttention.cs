using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// Which cells each cell of an H x W grid attends to under 2-D neighborhood attention (Hassani et al. 2023):
/// a kernel x kernel window of the cells sharing its residue modulo the dilation, centred on it and shifted
/// inwards at the borders (as NATTEN does), so every cell has exactly kernel² neighbours. Needs
/// kernel x dilation ≤ both sides.
/// </summary>
public static class Neighborhoods
{
    /// <summary>(H·W, kernel²) row-major cell indices, int64.</summary>
    public static Tensor Of(int height, int width, int kernel, int dilation)
    {
        if (kernel < 1 || kernel % 2 == 0) throw new SettingException(SettingNames.Kernel, $"{kernel}: an odd number, at least 1");
        if (kernel * dilation > height || kernel * dilation > width)
            throw new ArgumentException($"a {kernel}x{kernel} neighborhood at dilation {dilation} needs a grid of at least {kernel * dilation} a side, got {height}x{width}");
        var index = new long[height * width * kernel * kernel];
        var n = 0;
        for (var i = 0; i < height; i++)
            for (var j = 0; j < width; j++)
            {
                var rows = Window(i, height, kernel, dilation);
                var cols = Window(j, width, kernel, dilation);
                foreach (var r in rows)
                    foreach (var c in cols) index[n++] = (long)r * width + c;
            }
        return from_array(index, height * width, kernel * kernel);
    }

    /// <summary>(length, kernel) indices along a sequence: the 1-D case (NATTEN's na1d, NAT Diffuser's flattened
    /// token grid). Needs kernel x dilation ≤ length.</summary>
    public static Tensor Along(int length, int kernel, int dilation)
    {
        if (kernel < 1 || kernel % 2 == 0) throw new SettingException(SettingNames.Kernel, $"{kernel}: an odd number, at least 1");
        if (kernel * dilation > length)
            throw new ArgumentException($"a neighborhood of {kernel} at dilation {dilation} needs a sequence of at least {kernel * dilation} tokens, got {length}");
        var index = new long[length * kernel];
        var n = 0;
        for (var p = 0; p < length; p++)
            foreach (var q in Window(p, length, kernel, dilation)) index[n++] = q;
        return from_array(index, length, kernel);
    }

    // The kernel positions along one axis for position p: among p's residue class mod d, a window of k
    // centred on p and clamped inside the class.
    private static IEnumerable<int> Window(int p, int size, int k, int d)
    {
        var residue = p % d;
        var classSize = (size - residue + d - 1) / d;
        var start = Math.Clamp(p / d - k / 2, 0, classSize - k);
        return Enumerable.Range(start, k).Select(a => residue + a * d);
    }
}

/// <summary>
/// Multi-head 2-D neighborhood attention on a token grid of any size, in libtorch operations (no NATTEN): each
/// query's keys and values are gathered from its kernel² neighbours (<see cref="Neighborhoods"/>), scores and
/// weighted sums taken over those only: memory and time grow with cells x kernel², not cells². Heads are split
/// into groups, one per dilation (NAT Diffuser's "hydra" attention), so near and far context mix in one layer.
/// Positions enter as 2-D rotary embeddings of queries and keys (<see cref="Rotary2d"/>), not learned
/// absolute positions: the same weights run on any grid. Keys as the transformer's (key, query, value, proj).
/// </summary>
public sealed class NeighborhoodAttention : nn.Module<(Tensor x, int height, int width), Tensor>
{
    private readonly int _heads, _kernel;
    private readonly int[] _dilations;
    private readonly Dictionary<(int, int, int), Tensor> _neighbours = new();
    public readonly nn.Linear key, query, value, proj;

    public NeighborhoodAttention(TransformerConfig c, int kernel, int[] dilations)
    {
        (_heads, _kernel, _dilations) = (c.Heads, kernel, dilations);
        key = register_module("key", new nn.Linear(c.Emb, c.Emb));
        query = register_module("query", new nn.Linear(c.Emb, c.Emb));
        value = register_module("value", new nn.Linear(c.Emb, c.Emb));
        proj = register_module("proj", new nn.Linear(c.Emb, c.Emb));
    }

    private Tensor NeighboursOf(int height, int width, int dilation, Device device)
    {
        if (!_neighbours.TryGetValue((height, width, dilation), out var index))
        {
            index = Neighborhoods.Of(height, width, _kernel, dilation).to(device).DetachFromDisposeScope();
            _neighbours[(height, width, dilation)] = index;
        }
        return index;
    }

    public override Tensor forward((Tensor x, int height, int width) input)
    {
        var (x, height, width) = input;
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var hs = C / _heads;
        Tensor Heads(nn.Linear l) => l.forward(x).view(B, T, _heads, hs).transpose(1, 2);   // (B, nh, T, hs)
        var q = Rotary2d.Apply(Heads(query), height, width) * (1.0 / Math.Sqrt(hs));
        var k = Rotary2d.Apply(Heads(key), height, width);
        var v = Heads(value);
        var perGroup = _heads / _dilations.Length;
        var groups = new List<Tensor>();
        for (var g = 0; g < _dilations.Length; g++)
        {
            var index = NeighboursOf(height, width, _dilations[g], x.device).flatten();       // (T·k²)
            var (qg, kg, vg) = (q.narrow(1, g * perGroup, perGroup), k.narrow(1, g * perGroup, perGroup), v.narrow(1, g * perGroup, perGroup));
            groups.Add(Attend(qg, kg, vg, index, (long)_kernel * _kernel));
        }
        var y = cat(groups, 1).transpose(1, 2).contiguous().view(B, T, C);
        return proj.forward(y);
    }

    /// <summary>Each query of (B, heads, T, hs) attending to its <paramref name="neighbours"/> keys and values, gathered
    /// by <paramref name="index"/> (T·neighbours cell indices): (B, heads, T, hs). Queries come scaled.</summary>
    internal static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor index, long neighbours)
    {
        var (B, heads, T, hs) = (q.size(0), q.size(1), q.size(2), q.size(3));
        var kn = k.index_select(2, index).view(B, heads, T, neighbours, hs);   // each query's neighbours
        var vn = v.index_select(2, index).view(B, heads, T, neighbours, hs);
        var att = (q.unsqueeze(3) * kn).sum(-1).softmax(-1);                   // (B, heads, T, neighbours)
        return (att.unsqueeze(-1) * vn).sum(3);
    }

    public override void Dispose()
    {
        foreach (var t in _neighbours.Values) t.Dispose();
        _neighbours.Clear();
        base.Dispose();
    }
}

/// <summary>
/// 2-D rotary position embedding: the first half of each head's features rotated by the cell's row, the second
/// half by its column (RoPE, Su et al. 2021, per axis), at frequencies 10000^(-i/(hs/4)). A query-key product
/// then depends on positions only through their offset, which is what lets the weights run on any grid.
/// </summary>
public static class Rotary2d
{
    /// <summary><paramref name="x"/> (B, heads, H·W, hs), hs a multiple of 4, rotated.</summary>
    public static Tensor Apply(Tensor x, int height, int width)
    {
        var hs = x.size(3);
        if (hs % 4 != 0) throw new ArgumentException($"2-D rotary embedding needs a head size divisible by 4, got {hs}");
        var quarter = hs / 4;
        var freqs = (arange(quarter, float32, x.device) * (-Math.Log(10000) / quarter)).exp();
        var rows = from_array(Enumerable.Range(0, height * width).Select(c => (float)(c / width)).ToArray(), height * width).to(x.device);
        var cols = from_array(Enumerable.Range(0, height * width).Select(c => (float)(c % width)).ToArray(), height * width).to(x.device);
        var half = x.chunk(2, -1);
        return cat(new[] { Rotate(half[0], rows, freqs), Rotate(half[1], cols, freqs) }, -1);
    }

    // Rotates pairs (first quarter, second quarter) of x's last dimension by position·frequency.
    private static Tensor Rotate(Tensor x, Tensor positions, Tensor freqs)
    {
        var angles = positions.unsqueeze(1) * freqs.unsqueeze(0);            // (T, hs/4)
        var (cos, sin) = (angles.cos(), angles.sin());
        var parts = x.chunk(2, -1);
        return cat(new[] { parts[0] * cos - parts[1] * sin, parts[0] * sin + parts[1] * cos }, -1);
    }
}
