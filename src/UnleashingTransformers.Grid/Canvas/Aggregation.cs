using System.Runtime.InteropServices;

namespace UnleashingTransformers.Grid.Canvas;

/// <summary>How the distributions of the windows covering a cell combine.</summary>
public enum AggregationKind
{
    /// <summary>Arithmetic mean of the probabilities (the reference's mixture of experts).</summary>
    Mean,
    /// <summary>Weighted mean, weights falling off from each window's centre as a Gaussian (σ = a quarter
    /// of the window), as Mixture of Diffusers: cells near a window's border trust it less.</summary>
    Gaussian,
    /// <summary>Product of experts: the normalised geometric mean (mean of log-probabilities).</summary>
    ProductOfExperts,
}

/// <summary>One window's opinion about a cell: its probabilities, as the window's answer carries them (float32
/// bytes, read in place: a step reads thousands of answers, and a copy of each doubled its memory), and the
/// cell's place in the window.</summary>
public readonly record struct Opinion(ReadOnlyMemory<byte> Answer, int LocalRow, int LocalCol)
{
    public ReadOnlySpan<float> Probabilities => MemoryMarshal.Cast<byte, float>(Answer.Span);
}

public static class Aggregation
{
    public static AggregationKind Parse(string text) => text.ToLowerInvariant() switch
    {
        "mean" => AggregationKind.Mean,
        "gaussian" => AggregationKind.Gaussian,
        "poe" => AggregationKind.ProductOfExperts,
        _ => throw new ArgumentException($"aggregate '{text}': expected mean, gaussian or poe"),
    };

    /// <summary>Combines the opinions on one cell into one probability row (sums to 1).</summary>
    public static float[] Combine(IReadOnlyList<Opinion> opinions, AggregationKind kind, int windowHeight, int windowWidth)
    {
        if (opinions.Count == 0) throw new ArgumentException("no window covers the cell");
        var k = opinions[0].Probabilities.Length;
        var acc = new double[k];
        double totalWeight = 0;
        foreach (var o in opinions)
        {
            var p = o.Probabilities;
            var w = kind == AggregationKind.Gaussian ? GaussianWeight(o.LocalRow, o.LocalCol, windowHeight, windowWidth) : 1.0;
            totalWeight += w;
            for (var i = 0; i < k; i++)
                acc[i] += kind == AggregationKind.ProductOfExperts ? w * Math.Log(Math.Max(p[i], 1e-30)) : w * p[i];
        }
        var result = new float[k];
        if (kind == AggregationKind.ProductOfExperts)
        {
            var max = acc.Max() / totalWeight;
            double sum = 0;
            for (var i = 0; i < k; i++) sum += acc[i] = Math.Exp(acc[i] / totalWeight - max);
            for (var i = 0; i < k; i++) result[i] = (float)(acc[i] / sum);
        }
        else
        {
            double sum = acc.Sum();
            for (var i = 0; i < k; i++) result[i] = (float)(acc[i] / sum);
        }
        return result;
    }

    public static double GaussianWeight(int localRow, int localCol, int windowHeight, int windowWidth)
    {
        var (cy, cx) = ((windowHeight - 1) / 2.0, (windowWidth - 1) / 2.0);
        var (sy, sx) = (windowHeight / 4.0, windowWidth / 4.0);
        var (dy, dx) = ((localRow - cy) / sy, (localCol - cx) / sx);
        return Math.Exp(-0.5 * (dy * dy + dx * dx));
    }
}
