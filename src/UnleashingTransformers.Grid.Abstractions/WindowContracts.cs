namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// One window's forward pass, as the canvas asks for it: the window's current tokens (row-major,
/// mask id where unknown) and the window-local positions whose distributions are wanted. Only those
/// positions' distributions travel back (wire economy: a step reveals a few tokens, not 256 per window).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record WindowRequest(
    [property: Id(0)] long RequestId,
    [property: Id(1)] int WindowId,
    [property: Id(2)] long[] Tokens,
    [property: Id(3)] int[] Positions);

/// <summary>Whose windows these are, for the replicas' fair share: the job, and its priority (weights:
/// <c>JobPriorities.Weight</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record WindowFlow([property: Id(0)] string Job, [property: Id(1)] Jobs.JobPriority Priority)
{
    /// <summary>Windows of no job in particular (benchmarks, direct calls): one flow, interactive.</summary>
    public static readonly WindowFlow Anonymous = new("", Jobs.JobPriority.Interactive);
}

/// <summary>Probabilities (temperature 1) over the codebook at the request's positions, row-major
/// (Positions.Length, CodebookSize), as raw little-endian float32 bytes: a <c>byte[]</c> is one block
/// on the wire, where a <c>float[]</c> would be written element by element.</summary>
[GenerateSerializer, Immutable]
public sealed record WindowResult(
    [property: Id(0)] long RequestId,
    [property: Id(1)] int WindowId,
    [property: Id(2)] byte[] Probabilities);

/// <summary>A replica was asked for other weights than it holds; the message names both versions.</summary>
[GenerateSerializer]
public sealed class ModelMismatchException : Exception
{
    public ModelMismatchException(string message) : base(message) { }
}

/// <summary>What a window replica grain says of itself.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaStatus(
    [property: Id(0)] string Key,
    [property: Id(1)] string Model,
    [property: Id(2)] string Device,
    [property: Id(3)] long Batches,
    [property: Id(4)] long Requests);

/// <summary>
/// One model replica (a CPU slot or one GPU), keyed <c>"{silo}/{slot}"</c> and pinned to that silo.
/// Requests from many canvases are batched dynamically on the replica's own thread; the tiles of finished
/// canvases are decoded on a thread of the slot's own beside it, with the silo's VQ-GAN.
/// </summary>
public interface IWindowReplicaGrain : IGrainWithStringKey
{
    /// <summary>Runs the windows on the replica; throws <see cref="ModelMismatchException"/> when the
    /// replica holds other weights than <paramref name="model"/>. Results are in request order.</summary>
    [ResponseTimeout("00:10:00")]
    Task<WindowResult[]> EvaluateAsync(string model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel = default);

    /// <summary>Loads the prior file's weights; swapped in between batches.</summary>
    [ResponseTimeout("00:05:00")]
    Task<string> ReloadAsync(string priorPath);

    Task<ReplicaStatus> StatusAsync();

    /// <summary>Decodes one tile with the silo's VQ-GAN; throws <see cref="ModelMismatchException"/> when that is
    /// another VQ-GAN than <paramref name="vqgan"/> (a version).</summary>
    [ResponseTimeout("00:10:00")]
    Task<DecodedTile> DecodeAsync(string vqgan, TileRequest tile, CancellationToken cancel = default);

    /// <summary>The silo's VQ-GAN.</summary>
    Task<DecoderInfo> DecoderAsync();
}
