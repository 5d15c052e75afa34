using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Models.Transformer;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>A model a silo can serve: its name, its prior and VQ-GAN files, and how the prior is loaded.</summary>
public sealed record ModelEntry(string Name, string Prior, string VqGan, int? Heads = null, InferencePrecision Precision = InferencePrecision.Float32)
{
    /// <summary>The prior file's version (<see cref="ModelVersion"/>).</summary>
    public string Version => ModelVersion.OfFile(Prior);

    public ModelKey Key => new(Name, Version);

    /// <summary>A model's name: 1 to 64 letters, digits, '-' or '_' (it travels in URLs, metrics and file names).</summary>
    public static bool ValidName(string name) => name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static string NameRule(string name) => $"model name '{name}': expected 1 to 64 letters, digits, '-' or '_'";

    /// <summary>Bytes a silo holds for the model: each replica slot its own prior, one VQ-GAN (the files' sizes, which
    /// the weights take in memory give or take the activations).</summary>
    public long Bytes(int replicas, bool withVqGan) => replicas * new FileInfo(Prior).Length + (withVqGan && VqGan.Length > 0 ? new FileInfo(VqGan).Length : 0);
}

/// <summary>
/// The models a silo knows: those its silo.json lists (the first is the default of a job that names none), and the
/// versions trainers published (<see cref="IModelRegistryGrain"/>), the newest of a name being that name's current
/// one. A published version without a VQ-GAN of its own takes that of the listed model of its name (and its heads
/// and precision); a silo that lists no such model does not serve it.
/// </summary>
/// <param name="registry">What the registry holds (the host's call to <see cref="IModelRegistryGrain"/>).</param>
public sealed class ModelCatalog(IReadOnlyList<ModelEntry> listed, Func<Task<PublishedModel[]>> registry)
{
    private PublishedModel[] _published = [];


    public IReadOnlyList<ModelEntry> Listed => listed;

    /// <summary>The model of a job that names none.</summary>
    public string Default => listed.Count > 0 ? listed[0].Name : throw new InvalidOperationException("this silo lists no models");

    /// <summary>Each name's current model: the listed ones in their order, then names only trainers published.</summary>
    public async Task<IReadOnlyList<ModelEntry>> CurrentAsync()
    {
        var published = await RefreshAsync();
        var names = listed.Select(m => m.Name).Concat(published.Select(p => p.Name)).Distinct();
        return [.. names.Select(name => Newest(name, published)).OfType<ModelEntry>()];
    }

    /// <summary>The current model of <paramref name="name"/> (null: the default); ArgumentException naming the known
    /// ones when there is none.</summary>
    public async Task<ModelEntry> ResolveAsync(string? name)
    {
        name ??= Default;
        if (Newest(name, await RefreshAsync()) is { } found) return found;
        var known = (await CurrentAsync()).Select(m => m.Name);
        throw new ArgumentException($"model '{name}': the grid serves {string.Join(", ", known)} (GET /models)");
    }

    /// <summary>The model of exactly that name and version, listed or published; null when this silo has none.</summary>
    public async Task<ModelEntry?> FindAsync(ModelKey key)
    {
        if (listed.FirstOrDefault(m => m.Name == key.Name && Exists(m) && m.Version == key.Version) is { } own) return own;
        // A version this silo has not seen yet: a trainer published it since the last look.
        var published = _published.Any(p => p.Name == key.Name && p.Version == key.Version) ? _published : await RefreshAsync();
        return published.Where(p => p.Name == key.Name && p.Version == key.Version).Select(Entry).FirstOrDefault(e => e is not null);
    }

    /// <summary>The versions of <paramref name="name"/> this silo knows, for a refusal's message.</summary>
    public IEnumerable<string> VersionsOf(string name) =>
        listed.Where(m => m.Name == name && Exists(m)).Select(m => m.Version).Concat(_published.Where(p => p.Name == name).Select(p => p.Version)).Distinct();

    private ModelEntry? Newest(string name, PublishedModel[] published) =>
        published.Where(p => p.Name == name).Reverse().Select(Entry).FirstOrDefault(e => e is not null) ?? listed.FirstOrDefault(m => m.Name == name);

    private ModelEntry? Entry(PublishedModel p)
    {
        var own = listed.FirstOrDefault(m => m.Name == p.Name);
        var vqgan = p.VqGan.Length > 0 ? p.VqGan : own?.VqGan;
        return vqgan is null ? null : new ModelEntry(p.Name, p.Prior, vqgan, own?.Heads, own?.Precision ?? InferencePrecision.Float32);
    }

    private static bool Exists(ModelEntry m) => File.Exists(m.Prior);

    private async Task<PublishedModel[]> RefreshAsync() => _published = await registry();
}
