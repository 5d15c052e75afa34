using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>
/// For each generated image, the closest images of the training set in pixel space (Euclidean distance over
/// every pixel and channel): a generated image with a training image at distance ~0 is a copy (memorisation).
/// </summary>
public static class NearestNeighbours
{
    /// <summary>Indices into <paramref name="references"/> of each query's <paramref name="k"/> nearest, nearest first,
    /// and their distances (RMS per pixel value, so the figure does not depend on the image size).</summary>
    public static (long[][] indices, double[][] distances) Find(Tensor queries, Tensor references, int k)
    {
        if (queries.dim() != 4 || references.dim() != 4 || !queries.shape.Skip(1).SequenceEqual(references.shape.Skip(1)))
            throw new ArgumentException("nearest neighbours compare (N, C, H, W) image sets of one image size");
        k = (int)Math.Min(k, references.size(0));
        using var scope = NewDisposeScope();
        var q = queries.flatten(1).to(float64);
        var r = references.flatten(1).to(float64);
        var squared = (q.pow(2).sum(1, keepdim: true) + r.pow(2).sum(1) - 2 * q.matmul(r.t())).clamp_min(0);
        var (values, idx) = squared.topk(k, largest: false);
        var rms = (values / q.size(1)).sqrt();
        var n = (int)q.size(0);
        var indices = new long[n][];
        var distances = new double[n][];
        for (var i = 0; i < n; i++)
        {
            indices[i] = idx[i].ToArray<long>();
            distances[i] = rms[i].ToArray<double>();
        }
        return (indices, distances);
    }

    /// <summary>A picture of it as image rows: each query then its neighbours, (N·(k + 1), C, H, W) for
    /// <c>Images.Grid</c> with k + 1 to a row.</summary>
    public static Tensor Rows(Tensor queries, Tensor references, long[][] indices)
    {
        using var scope = NewDisposeScope();
        var rows = new List<Tensor>();
        for (var i = 0; i < indices.Length; i++)
        {
            rows.Add(queries[i].unsqueeze(0));
            rows.Add(references.index_select(0, from_array<long>(indices[i], indices[i].Length)));
        }
        return cat(rows, 0).MoveToOuterDisposeScope();
    }
}
