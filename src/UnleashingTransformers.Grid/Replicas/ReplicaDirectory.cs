using Orleans.Metadata;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>A window replica of the cluster: its grain key and the device class it runs on.</summary>
public readonly record struct ReplicaAddress(string Key, string Device);

/// <summary>
/// The window replicas of the live silos. Each window silo states its replica count and device as
/// properties of its window replica grain class (<see cref="GridGrainProperties"/>), which Orleans carries
/// in the cluster manifest to every silo. (Silo metadata says the same, but its cache can miss a silo that
/// joined under load and never look again; the manifest is fetched until every active silo is in it.)
/// Keys are <c>"{silo}/{slot}"</c>, the window replica grain's key, pinned to that silo.
/// </summary>
public sealed class ReplicaDirectory(IClusterMembershipService membership, IClusterManifestProvider manifests)
{
    public const string ReplicasKey = "ut.window.replicas";
    public const string DeviceKey = "ut.device";
    public const string RoleKey = "ut.role";

    private IEnumerable<(ClusterMember member, Dictionary<string, string> properties)> LiveGrainClasses()
    {
        var manifest = manifests.Current;
        foreach (var member in membership.CurrentSnapshot.Members.Values.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            if (member.Status != SiloStatus.Active || !manifest.Silos.TryGetValue(member.SiloAddress, out var silo)) continue;
            foreach (var grain in silo.Grains.Values)
                yield return (member, grain.Properties.Where(p => p.Key.StartsWith("ut.", StringComparison.Ordinal)).ToDictionary());
        }
    }

    public IReadOnlyList<ReplicaAddress> Current()
    {
        var found = new List<ReplicaAddress>();
        foreach (var (member, properties) in LiveGrainClasses())
        {
            if (!properties.TryGetValue(ReplicasKey, out var text) || !int.TryParse(text, out var count)) continue;
            var device = properties.GetValueOrDefault(DeviceKey, "cpu");
            for (var slot = 0; slot < count; slot++) found.Add(new ReplicaAddress($"{member.Name}/{slot}", device));
        }
        return found;
    }

    /// <summary>Whether a live silo hosts the grains of <paramref name="role"/>.</summary>
    public bool AnySiloWith(string role) => LiveGrainClasses().Any(g => g.properties.GetValueOrDefault(RoleKey) == role);

    /// <summary>The device class of a device name: <c>cuda:1</c> and <c>cuda:0</c> are one class, <c>cpu</c> another.</summary>
    public static string DeviceClass(string device) => device.Split(':')[0];
}

/// <summary>What a silo says of its grain classes in the cluster manifest: the role each belongs to, and
/// for the window replica grain how many replicas this silo serves and on which device.</summary>
public sealed class GridGrainProperties(IReadOnlyDictionary<Type, string> roles, int replicas, string device) : IGrainPropertiesProvider
{
    public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        if (!roles.TryGetValue(grainClass, out var role)) return;
        properties[ReplicaDirectory.RoleKey] = role;
        if (role != "window") return;
        properties[ReplicaDirectory.ReplicasKey] = replicas.ToString();
        properties[ReplicaDirectory.DeviceKey] = device;
    }
}
