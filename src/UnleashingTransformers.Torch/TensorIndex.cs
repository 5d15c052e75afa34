namespace UnleashingTransformers.Torch;

/// <summary>One index of PyTorch-style indexing: an integer, a slice (C# range or
/// <see cref="Slice"/>), <see cref="Ellipsis"/>, <see cref="None"/> (a new axis) or an index tensor.</summary>
public readonly struct TensorIndex
{
    internal enum Kind { Single, Slice, Ellipsis, None, Tensor }

    internal readonly Kind K;
    internal readonly long Start;
    internal readonly long? SliceStart, SliceStop;
    internal readonly long Step;
    internal readonly Tensor? Index;

    private TensorIndex(Kind k, long start = 0, long? sliceStart = null, long? sliceStop = null, long step = 1, Tensor? index = null)
    {
        K = k; Start = start; SliceStart = sliceStart; SliceStop = sliceStop; Step = step; Index = index;
    }

    public static TensorIndex Single(long i) => new(Kind.Single, i);
    public static TensorIndex Slice(long? start = null, long? stop = null, long step = 1) => new(Kind.Slice, 0, start, stop, step);
    public static readonly TensorIndex Ellipsis = new(Kind.Ellipsis);
    public static readonly TensorIndex None = new(Kind.None);
    public static readonly TensorIndex Colon = Slice();

    public static implicit operator TensorIndex(long i) => Single(i);
    public static implicit operator TensorIndex(int i) => Single(i);
    public static implicit operator TensorIndex(Tensor t) => new(Kind.Tensor, index: t);
    public static implicit operator TensorIndex(Range r) => Slice(
        r.Start.IsFromEnd ? -r.Start.Value : r.Start.Value,
        r.End.IsFromEnd ? (r.End.Value == 0 ? null : -r.End.Value) : r.End.Value);

    internal static bool HasTensor(TensorIndex[] indices) => indices.Any(i => i.K == Kind.Tensor);

    internal static Tensor Apply(Tensor x, TensorIndex[] indices)
    {
        var (view, tensorIdx) = ApplyBasic(x, indices);
        if (tensorIdx.All(t => t is null)) return view;
        using (view) return view.index(tensorIdx);
    }

    /// <summary>Applies integers, slices, Ellipsis and None (views); returns the view and the
    /// advanced-index tensors by the view's dimension (null where none).</summary>
    internal static (Tensor view, Tensor?[] tensorIndices) ApplyBasic(Tensor x, TensorIndex[] indices)
    {
        var consuming = indices.Count(i => i.K is Kind.Single or Kind.Slice or Kind.Tensor);
        var rank = (int)x.dim();
        if (consuming > rank) throw new TorchException($"too many indices ({consuming}) for a tensor of {rank} dimensions");
        if (indices.Count(i => i.K == Kind.Ellipsis) > 1) throw new TorchException("an index can have only one ellipsis");

        var current = x.alias();
        var dim = 0;
        var tensorAt = new List<(int dim, Tensor t)>();
        foreach (var idx in indices)
        {
            Tensor next;
            switch (idx.K)
            {
                case Kind.Single:
                    next = current.select(dim, idx.Start);
                    break;
                case Kind.Slice:
                    next = current.slice(dim, idx.SliceStart, idx.SliceStop, idx.Step);
                    dim++;
                    break;
                case Kind.None:
                    next = current.unsqueeze(dim);
                    dim++;
                    break;
                case Kind.Ellipsis:
                    dim += rank - consuming;
                    continue;
                default:
                    tensorAt.Add((dim, idx.Index!));
                    dim++;
                    continue;
            }
            current.Dispose();
            current = next;
        }
        var result = new Tensor?[tensorAt.Count == 0 ? 0 : tensorAt.Max(p => p.dim) + 1];
        foreach (var (d, t) in tensorAt) result[d] = t;
        return (current, result);
    }
}
