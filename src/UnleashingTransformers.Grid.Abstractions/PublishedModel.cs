namespace UnleashingTransformers.Grid.Contracts;

/// <summary>A model a trainer published: its name (a new one, or a new version of one in the silos' model lists), the
/// prior file (on a volume every silo reads), the VQ-GAN file (empty: that of the silos' model of this name) and
/// the version (the prior file's).</summary>
[GenerateSerializer, Immutable]
public sealed record PublishedModel(
    [property: Id(0)] string Name,
    [property: Id(1)] string Prior,
    [property: Id(2)] string VqGan,
    [property: Id(3)] string Version,
    [property: Id(4)] DateTimeOffset Published);
