namespace UnleashingTransformers.Grid.Contracts;

/// <summary>The models trainers published (one grain, key 0, saved): each name's versions, newest last. The silos'
/// own model lists (silo.json) are the base; a published version of a name is that name's newest.</summary>
public interface IModelRegistryGrain : IGrainWithIntegerKey
{
    Task PublishAsync(PublishedModel model);
    Task<PublishedModel[]> PublishedAsync();
}
