namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>One position per step in raster (row-major) order: the reference's big-sample order.</summary>
public sealed class RasterRevealSchedule(int length) : IRevealSchedule
{
    public int Steps => length;

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        if (masked.Count > 0) into.Add(masked.Positions[0]);
    }
}
