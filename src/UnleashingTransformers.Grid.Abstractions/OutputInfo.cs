namespace UnleashingTransformers.Grid.Jobs;

/// <summary>One of a job's outputs as readers see it: its length in bytes, a version tag (an HTTP entity tag,
/// quoted) that changes whenever its bytes do, and its media type.</summary>
[GenerateSerializer, Immutable]
public sealed record OutputInfo(
    [property: Id(0)] long Length,
    [property: Id(1)] string ETag,
    [property: Id(2)] string ContentType)
{
    /// <summary>The most bytes one read of an output returns: far below Orleans' message size limit, so an
    /// output of any size crosses the cluster.</summary>
    public const int MaxChunk = 256 << 10;
}
