using System.Collections.Concurrent;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// The models a canvas silo's jobs run on: a name resolved to its current version, each version's prior read once
/// for its shape (without running it), the model's VQ-GAN as the window silos hold it, and the replicas a job of it
/// works with (window passes and tile decodes: a canvas silo loads no model).
/// </summary>
/// <param name="describe">Reads a model's prior for its shape (a second or so: called once a version).</param>
/// <param name="replicas">The replicas a job of the given model works with, as the given flow's share of them.</param>
public sealed class JobModels(ModelCatalog catalog, Func<ModelEntry, PriorInfo> describe, Func<ModelKey, PriorInfo, WindowFlow, IJobReplicas> replicas)
{
    private readonly ConcurrentDictionary<string, Task<PriorInfo>> _priors = new();
    private readonly ConcurrentDictionary<ModelKey, DecoderInfo> _decoders = new();

    public ModelCatalog Catalog => catalog;

    /// <summary>The current model of a name (null: the default) and its prior's shape; ArgumentException naming the
    /// known models when there is no such model.</summary>
    public async Task<(ModelKey key, PriorInfo prior)> ResolveAsync(string? name)
    {
        if (name is not null && !ModelEntry.ValidName(name)) throw new ArgumentException(ModelEntry.NameRule(name));
        var entry = await catalog.ResolveAsync(name);
        var prior = await DescribeAsync(entry);
        return (new ModelKey(entry.Name, prior.Version), prior);
    }

    /// <summary>The prior of a model version a job was started on.</summary>
    public async Task<PriorInfo> PriorAsync(ModelKey model)
    {
        if (_priors.TryGetValue(model.Version, out var known) && known.IsCompletedSuccessfully) return known.Result;
        var entry = await catalog.FindAsync(model)
            ?? throw new ModelMismatchException($"model {model.Name} of version {model.Version} is no longer served (its file is gone or was replaced): submit the job again");
        return await DescribeAsync(entry);
    }

    private Task<PriorInfo> DescribeAsync(ModelEntry entry)
    {
        var version = entry.Version;
        // A read that failed (a file being replaced) is tried again by the next caller, not kept.
        if (_priors.TryGetValue(version, out var failed) && failed.IsFaulted) _priors.TryRemove(new KeyValuePair<string, Task<PriorInfo>>(version, failed));
        return _priors.GetOrAdd(version, _ => Task.Run(() => describe(entry)));
    }

    /// <summary>The replicas of <paramref name="model"/>, as <paramref name="flow"/>'s share of them.</summary>
    public IJobReplicas Replicas(ModelKey model, PriorInfo prior, WindowFlow flow) => replicas(model, prior, flow);

    /// <summary>The model's VQ-GAN as the window silos hold it (asked once, then kept: every window silo must hold the same one).</summary>
    public async Task<DecoderInfo> DecoderAsync(ModelKey model, CancellationToken cancel = default)
    {
        if (_decoders.TryGetValue(model, out var known)) return known;
        var prior = await PriorAsync(model);
        return _decoders[model] = await replicas(model, prior, WindowFlow.Anonymous).DecoderAsync(cancel);
    }

    /// <summary>The model's VQ-GAN if a window silo has described it already.</summary>
    public DecoderInfo? KnownDecoder(ModelKey model) => _decoders.GetValueOrDefault(model);
}
