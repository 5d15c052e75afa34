namespace UnleashingTransformers.Models.Sampling;

/// <summary>How a canvas places its windows (<c>--tiling</c>).</summary>
public enum TilingKind
{
    /// <summary>Overlapping windows at a fixed stride, their distributions aggregated (<see cref="WindowTiling"/>).</summary>
    Overlap,
    /// <summary>Non-overlapping windows whose grid shifts every step (<see cref="ShiftedTiling"/>).</summary>
    Shifted,
}
