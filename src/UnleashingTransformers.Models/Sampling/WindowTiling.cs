namespace UnleashingTransformers.Models.Sampling;

/// <summary>A window of the canvas: its id and top-left cell.</summary>
public readonly record struct Window(int Id, int Top, int Left);

/// <summary>
/// Overlapping windows of the prior's training size over an H x W token canvas: tops and lefts step by
/// the stride, and the last row/column of windows is snapped to the canvas edge so every cell is
/// covered (MultiDiffusion-style tiling). Stride 1 gives the reference's every-window tiling.
/// </summary>
public sealed class WindowTiling
{
    public int Height { get; }
    public int Width { get; }
    public int WindowHeight { get; }
    public int WindowWidth { get; }
    public IReadOnlyList<int> Tops { get; }
    public IReadOnlyList<int> Lefts { get; }
    public IReadOnlyList<Window> Windows { get; }

    public WindowTiling(int height, int width, int windowHeight, int windowWidth, int strideH, int strideW)
    {
        if (height < windowHeight || width < windowWidth)
            throw new ArgumentException($"canvas {height}x{width} is smaller than the {windowHeight}x{windowWidth} window");
        if (strideH < 1 || strideW < 1 || strideH > windowHeight || strideW > windowWidth)
            throw new ArgumentException($"stride must be between 1 and the window size ({windowHeight}x{windowWidth})");
        (Height, Width, WindowHeight, WindowWidth) = (height, width, windowHeight, windowWidth);
        Tops = Starts(height, windowHeight, strideH);
        Lefts = Starts(width, windowWidth, strideW);
        Windows = Tops.SelectMany(t => Lefts.Select(l => (t, l))).Select((p, i) => new Window(i, p.t, p.l)).ToList();
    }

    private static List<int> Starts(int size, int window, int stride)
    {
        var starts = new List<int>();
        for (var s = 0; s + window <= size; s += stride) starts.Add(s);
        if (starts[^1] + window < size) starts.Add(size - window); // snap the last window to the edge
        return starts;
    }

    /// <summary>The windows covering a cell, found by binary search among the sorted tops and lefts: the cost is
    /// the windows returned (at most four at half-window stride), not the canvas's size.</summary>
    public IEnumerable<Window> Covering(int row, int col)
    {
        var (firstTop, firstLeft) = (FirstCovering(Tops, row, WindowHeight), FirstCovering(Lefts, col, WindowWidth));
        for (var i = firstTop; i < Tops.Count && Tops[i] <= row; i++)
            for (var j = firstLeft; j < Lefts.Count && Lefts[j] <= col; j++)
                yield return Windows[i * Lefts.Count + j];
    }

    /// <summary>The first start s (ascending) with s + size > x, i.e. the first window reaching x.</summary>
    private static int FirstCovering(IReadOnlyList<int> starts, int x, int size)
    {
        var (lo, hi) = (0, starts.Count);
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (starts[mid] + size <= x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
