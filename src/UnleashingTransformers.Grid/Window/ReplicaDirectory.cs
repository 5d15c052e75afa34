using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace UnleashingTransformers.Grid.Window;

/// <summary>A window replica of the cluster: its grain key and the device class it runs on.</summary>
public readonly record struct ReplicaAddress(string Key, string Device);

/// <summary>
/// The window replicas of the live silos, read from membership (active silos) and silo metadata (each
/// window silo advertises <see cref="ReplicasKey"/> and <see cref="DeviceKey"/>). Keys are
/// <c>"{silo}/{slot}"</c>, the window replica grain's key, pinned to that silo.
/// </summary>
public sealed class ReplicaDirectory(IClusterMembershipService membership, ISiloMetadataCache metadata)
{
    public const string ReplicasKey = "ut.window.replicas";
    public const string DeviceKey = "ut.device";
    public const string RolesKey = "ut.roles";

    public IReadOnlyList<ReplicaAddress> Current()
    {
        var found = new List<ReplicaAddress>();
        foreach (var member in membership.CurrentSnapshot.Members.Values.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            if (member.Status != SiloStatus.Active) continue;
            var meta = metadata.GetSiloMetadata(member.SiloAddress).Metadata;
            if (!meta.TryGetValue(ReplicasKey, out var text) || !int.TryParse(text, out var count)) continue;
            var device = meta.TryGetValue(DeviceKey, out var d) ? d : "cpu";
            for (var slot = 0; slot < count; slot++) found.Add(new ReplicaAddress($"{member.Name}/{slot}", device));
        }
        return found;
    }

    /// <summary>Whether a live silo has <paramref name="role"/>.</summary>
    public bool AnySiloWith(string role) => membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active
        && metadata.GetSiloMetadata(m.SiloAddress).Metadata.TryGetValue(RolesKey, out var roles) && roles.Split(',').Contains(role));

    /// <summary>The device class of a device name: <c>cuda:1</c> and <c>cuda:0</c> are one class, <c>cpu</c> another.</summary>
    public static string DeviceClass(string device) => device.Split(':')[0];
}
