using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Grid.Grains;

[GenerateSerializer]
public sealed class ModelRegistryState
{
    [Id(0)] public List<PublishedModel> Published { get; set; } = [];
}

/// <summary>
/// The models trainers published, saved with the jobs: each name's last <see cref="KeptVersions"/> versions, newest
/// last (older ones stay findable while jobs started on them finish). Publishing a version again moves it to the end.
/// </summary>
public sealed class ModelRegistryGrain(
    [PersistentState("models", CanvasRuntime.Storage)] IPersistentState<ModelRegistryState> registry) : Grain, IModelRegistryGrain
{
    public const int KeptVersions = 8;

    public async Task PublishAsync(PublishedModel model)
    {
        if (!ModelEntry.ValidName(model.Name)) throw new ArgumentException(ModelEntry.NameRule(model.Name));
        var published = registry.State.Published;
        published.RemoveAll(p => p.Name == model.Name && p.Version == model.Version);
        published.Add(model);
        var versions = published.Where(p => p.Name == model.Name).ToList();
        foreach (var old in versions.Take(Math.Max(0, versions.Count - KeptVersions))) published.Remove(old);
        await registry.WriteStateAsync();
    }

    public Task<PublishedModel[]> PublishedAsync() => Task.FromResult(registry.State.Published.ToArray());
}
