using Orleans.Metadata;
using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>A window replica of the cluster: its grain key, the device class it runs on, and the models its silo lists.</summary>
public readonly record struct ReplicaAddress(string Key, string Device, string[] Models)
{
    /// <summary>Whether the replica's silo lists the model (a model only trainers published is listed by none).</summary>
    public bool Lists(string model) => Models.Contains(model);
}

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
    public const string ModelsKey = "ut.models";

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
            var models = Names(properties);
            for (var slot = 0; slot < count; slot++) found.Add(new ReplicaAddress($"{member.Name}/{slot}", device, models));
        }
        return found;
    }

    /// <summary>The models the live silos of <paramref name="role"/> list (name and version), each with the silos listing
    /// it, in the order the silos list them (the first: the canvas silos' default).</summary>
    public IReadOnlyList<(ModelKey model, string[] silos)> Listed(string role)
    {
        var found = new List<(ModelKey model, List<string> silos)>();
        foreach (var (member, properties) in LiveGrainClasses().Where(g => g.properties.GetValueOrDefault(RoleKey) == role))
            foreach (var model in Keys(properties))
            {
                if (found.FindIndex(f => f.model == model) is var at and >= 0) found[at].silos.Add(member.Name);
                else found.Add((model, [member.Name]));
            }
        return [.. found.Select(f => (f.model, f.silos.ToArray()))];
    }

    /// <summary>How a silo lists its models in the manifest: <c>name=version,...</c>.</summary>
    public static string Encode(IEnumerable<ModelKey> models) => string.Join(",", models.Select(m => $"{m.Name}={m.Version}"));

    private static IEnumerable<ModelKey> Keys(Dictionary<string, string> properties) =>
        properties.GetValueOrDefault(ModelsKey, "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(m => m.Split('=')).Select(p => new ModelKey(p[0], p.Length > 1 ? p[1] : ""));

    private static string[] Names(Dictionary<string, string> properties) => [.. Keys(properties).Select(k => k.Name)];

    /// <summary>Whether a live silo hosts the grains of <paramref name="role"/>.</summary>
    public bool AnySiloWith(string role) => LiveGrainClasses().Any(g => g.properties.GetValueOrDefault(RoleKey) == role);

    /// <summary>The device class of a device name: <c>cuda:1</c> and <c>cuda:0</c> are one class, <c>cpu</c> another.</summary>
    public static string DeviceClass(string device) => device.Split(':')[0];
}

/// <summary>What a silo says of its grain classes in the cluster manifest: the role each belongs to, the models
/// it lists (window and canvas silos), and for the window replica grain how many replicas this silo serves and on
/// which device.</summary>
public sealed class GridGrainProperties(IReadOnlyDictionary<Type, string> roles, int replicas, string device, IReadOnlyList<ModelKey>? models = null) : IGrainPropertiesProvider
{
    public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        if (!roles.TryGetValue(grainClass, out var role)) return;
        properties[ReplicaDirectory.RoleKey] = role;
        if (role is SiloRoles.Window or SiloRoles.Canvas && models is { Count: > 0 }) properties[ReplicaDirectory.ModelsKey] = ReplicaDirectory.Encode(models);
        if (role != SiloRoles.Window) return;
        properties[ReplicaDirectory.ReplicasKey] = replicas.ToString();
        properties[ReplicaDirectory.DeviceKey] = device;
    }
}
