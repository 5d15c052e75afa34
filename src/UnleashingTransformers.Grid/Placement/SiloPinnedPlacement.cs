using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace UnleashingTransformers.Grid.Placement;

/// <summary>
/// Places a grain keyed <c>"{silo}/..."</c> on the silo of that name, and nowhere else: a window replica
/// owns a device of that silo, a trainer its data and checkpoints. When the silo is gone, so are its keys.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloPinnedPlacement : PlacementStrategy
{
    public static readonly SiloPinnedPlacement Instance = new();

    /// <summary>The silo part of a pinned key.</summary>
    public static string SiloOf(string key) => key.Split('/')[0];
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloPinnedPlacementAttribute() : PlacementAttribute(SiloPinnedPlacement.Instance);

public sealed class SiloPinnedPlacementDirector(IClusterMembershipService membership) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silo = SiloPinnedPlacement.SiloOf(target.GrainIdentity.Key.ToString()!);
        var compatible = context.GetCompatibleSilos(target);
        foreach (var member in membership.CurrentSnapshot.Members.Values)
            if (member.Status == SiloStatus.Active && member.Name == silo && compatible.Contains(member.SiloAddress))
                return Task.FromResult(member.SiloAddress);
        throw new SiloUnavailableException($"no active silo '{silo}' hosts {target.GrainIdentity.Type}");
    }
}
