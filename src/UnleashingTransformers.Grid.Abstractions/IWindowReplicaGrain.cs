namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// One model replica slot (a CPU slot or one GPU), keyed <c>"{silo}/{slot}"</c> and pinned to that silo. The slot
/// serves any model its silo can find, loaded on first use (the least recently used one unloaded when the silo's
/// <c>Window:MemoryBudgetMb</c> would be exceeded). Requests from many canvases are batched dynamically on the
/// slot's own thread of each model; the tiles of finished canvases are decoded beside them with the model's VQ-GAN.
/// </summary>
public interface IWindowReplicaGrain : IGrainWithStringKey
{
    /// <summary>Runs the windows on the replica of <paramref name="model"/>; throws <see cref="ModelMismatchException"/>
    /// when this silo has no such model of that version. Results are in request order.</summary>
    [ResponseTimeout("00:10:00")]
    Task<WindowResult[]> EvaluateAsync(ModelKey model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel = default);

    Task<ReplicaStatus> StatusAsync();

    /// <summary>Decodes one tile with <paramref name="model"/>'s VQ-GAN; throws <see cref="ModelMismatchException"/>
    /// when that is another VQ-GAN than <paramref name="vqgan"/> (a version).</summary>
    [ResponseTimeout("00:10:00")]
    Task<DecodedTile> DecodeAsync(ModelKey model, string vqgan, TileRequest tile, CancellationToken cancel = default);

    /// <summary><paramref name="model"/>'s VQ-GAN.</summary>
    [ResponseTimeout("00:05:00")]
    Task<DecoderInfo> DecoderAsync(ModelKey model);
}
