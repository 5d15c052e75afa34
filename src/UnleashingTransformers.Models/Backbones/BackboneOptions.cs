namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The settings one backbone has and the others do not, each default stated here once (<c>ut train-prior</c>'s
/// --patch, --kernel, --dilations, --shorten and --layers as an hourglass depth; the trainer role's JSON alike).
/// A setting given to a backbone it is not for is refused (<see cref="PriorNetworks.Check"/>).
/// </summary>
public sealed record BackboneOptions
{
    /// <summary>DiT's and UViT's patch side on the token grid.</summary>
    public int Patch { get; init; } = 1;
    /// <summary>NAT's neighbourhood side.</summary>
    public int Kernel { get; init; } = NatConfig.DefaultKernel;
    /// <summary>NAT's dilation per head group; null: <see cref="NatConfig"/>'s.</summary>
    public int[]? Dilations { get; init; }
    /// <summary>SUNDAE's hourglass depth, "pre-valley-post"; null: <see cref="HourglassConfig.DefaultDepth"/>.</summary>
    public string? Depth { get; init; }
    /// <summary>SUNDAE's shorten factor k: the valley has k times fewer tokens (√k x √k blocks merged).</summary>
    public int Shorten { get; init; } = HourglassConfig.DefaultShorten;
}
