namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>
/// The Halton scheduler (Besnier et al., ICLR 2025): positions are revealed in the order of the 2-D Halton
/// sequence (bases 2 and 3) over the grid, so each step's reveals spread evenly over space, the step's count
/// following <see cref="MaskRatio.RevealCount"/>. The order is fixed for a grid size (randomness is in
/// the drawn tokens only).
/// </summary>
public sealed class HaltonRevealSchedule : IRevealSchedule
{
    private readonly MaskScheduleKind _mask;
    private readonly int[] _order;

    public HaltonRevealSchedule(int steps, int height, int width, MaskScheduleKind mask)
    {
        if (steps < 1) throw new SettingException(SettingNames.Steps, "must be >= 1");
        (Steps, _mask) = (steps, mask);
        _order = Order(height, width);
    }

    public int Steps { get; }

    /// <summary>
    /// Grid cells in the order the Halton points (radical inverses of i = 1, 2, … in bases 2 and 3, as row
    /// and column fractions) first fall in them. Past 16 points per cell the few cells not yet hit follow
    /// in raster order (low-discrepancy points leave few: none on the grids tested).
    /// </summary>
    public static int[] Order(int height, int width)
    {
        var cells = height * width;
        var seen = new bool[cells];
        var order = new List<int>(cells);
        for (long i = 1; order.Count < cells && i <= 16L * cells; i++)
        {
            var row = (int)(RadicalInverse(i, 2) * height);
            var col = (int)(RadicalInverse(i, 3) * width);
            var cell = row * width + col;
            if (seen[cell]) continue;
            seen[cell] = true;
            order.Add(cell);
        }
        for (var cell = 0; cell < cells && order.Count < cells; cell++)
            if (!seen[cell]) order.Add(cell);
        return order.ToArray();
    }

    private static double RadicalInverse(long i, int b)
    {
        double result = 0, f = 1.0 / b;
        for (; i > 0; i /= b, f /= b) result += f * (i % b);
        return result;
    }

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into)
    {
        if (masked.Length != _order.Length) throw new ArgumentException($"Halton order for {_order.Length} positions used on {masked.Length}");
        into.Clear();
        var n = MaskRatio.RevealCount(_mask, step, Steps, masked.Count);
        foreach (var pos in _order)
        {
            if (into.Count == n) break;
            if (masked.Contains(pos)) into.Add(pos);
        }
        into.Sort();
    }
}
