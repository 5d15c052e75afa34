namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// Non-overlapping windows whose grid is offset at every step by a shift keyed by (seed, step), as
/// SpotDiffusion does for continuous diffusion: each position is seen by exactly one window a step (one
/// pass per position instead of up to four), and since the seams move from step to step no position stays
/// on a window's border. Bands cut by the canvas's edge are served by a window snapped inside the canvas,
/// which owns only the band's positions (the rest of it is context).
/// </summary>
public sealed class ShiftedTiling(int height, int width, int windowHeight, int windowWidth, ulong seed)
{
    /// <summary>The step's offset of the window grid, in [0, window) each way.</summary>
    public (int rows, int cols) Shift(int step)
    {
        var h = CounterRng.Hash(seed, 0, (ulong)step, 0, CounterRng.Purpose.Shift);
        return ((int)(h % (ulong)windowHeight), (int)((h >> 32) % (ulong)windowWidth));
    }

    /// <summary>The one window that serves a cell at a step; its id is unique among the step's windows.</summary>
    public Window Owner(int step, int row, int col)
    {
        var (dy, dx) = Shift(step);
        var top = Math.Clamp(Band(row, dy, windowHeight), 0, height - windowHeight);
        var left = Math.Clamp(Band(col, dx, windowWidth), 0, width - windowWidth);
        return new Window(top * width + left, top, left);
    }

    /// <summary>Start of the band of <paramref name="size"/> holding <paramref name="x"/> when bands start at offset + k·size.</summary>
    private static int Band(int x, int offset, int size) => offset + (int)Math.Floor((x - offset) / (double)size) * size;
}
