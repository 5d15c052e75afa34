namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The settings one backbone has and the others do not, each default stated here once (<c>ut train-prior</c>'s
/// --patch, --kernel, --dilations, --positions, --layout, --shorten and --layers as an hourglass depth; the trainer role's JSON alike).
/// A setting given to a backbone it is not for is refused (<see cref="PriorNetworks.Check"/>; each backbone lists
/// the ones it takes, <see cref="PriorBackbone.Settings"/>).
/// </summary>
public sealed record BackboneOptions
{
    /// <summary>DiT's and UViT's patch side on the token grid.</summary>
    public int Patch { get; init; } = 1;
    /// <summary>NAT's neighbourhood side.</summary>
    public int Kernel { get; init; } = NatConfig.DefaultKernel;
    /// <summary>NAT's dilation per head group; null: <see cref="NatConfig"/>'s.</summary>
    public int[]? Dilations { get; init; }
    /// <summary>NAT's positions: rotary only (any grid), or learned absolute ones too (its training grid); null: the
    /// layout's (<see cref="NatConfig.HeadPositions"/>: none on the grid, learned flat).</summary>
    public NatPositions? Positions { get; init; }
    /// <summary>NAT's neighbourhoods: 2-D on the token grid, or 1-D on the flattened sequence as NAT Diffuser's.</summary>
    public NatLayout Layout { get; init; } = NatLayout.Grid;
    /// <summary>SUNDAE's hourglass depth, "pre-valley-post"; null: <see cref="HourglassConfig.DefaultDepth"/>.</summary>
    public string? Depth { get; init; }
    /// <summary>SUNDAE's shorten factor k: the valley has k times fewer tokens (√k x √k blocks merged).</summary>
    public int Shorten { get; init; } = HourglassConfig.DefaultShorten;

    /// <summary>Every setting, in the order messages name them (<see cref="SettingNames"/>).</summary>
    public static readonly IReadOnlyList<string> Settings =
        [SettingNames.Patch, SettingNames.Kernel, SettingNames.Dilations, SettingNames.Positions, SettingNames.Layout, SettingNames.Shorten, SettingNames.Depth];

    /// <summary>The settings given, i.e. not left at their defaults.</summary>
    public IEnumerable<string> Given()
    {
        var unset = new BackboneOptions();
        if (Patch != unset.Patch) yield return SettingNames.Patch;
        if (Kernel != unset.Kernel) yield return SettingNames.Kernel;
        if (Dilations is not null) yield return SettingNames.Dilations;
        if (Positions is not null) yield return SettingNames.Positions;
        if (Layout != unset.Layout) yield return SettingNames.Layout;
        if (Depth is not null) yield return SettingNames.Depth;
        if (Shorten != unset.Shorten) yield return SettingNames.Shorten;
    }
}
