using Orleans.Concurrency;
using Orleans.Placement;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Placement;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>
/// One model replica slot, keyed <c>"{silo}/{slot}"</c> and pinned to that silo: it finds the model a call names in
/// the silo's <see cref="ModelCatalog"/> and runs it on the silo's <see cref="ReplicaHost"/>. Reentrant: calls from
/// many canvases enter while a batch runs, and the slot's thread batches them. Never collected while its silo
/// lives, never moved.
/// </summary>
[SiloPinnedPlacement, Reentrant, KeepAlive, Immovable]
public sealed class WindowReplicaGrain(ReplicaHost host, ModelCatalog models) : Grain, IWindowReplicaGrain
{
    private int Slot => int.Parse(this.GetPrimaryKeyString().Split('/')[1]);

    public async Task<WindowResult[]> EvaluateAsync(ModelKey model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel = default) =>
        await host.EvaluateAsync(Slot, await FindAsync(model), flow, requests, cancel);

    public async Task<DecodedTile> DecodeAsync(ModelKey model, string vqgan, TileRequest tile, CancellationToken cancel = default)
    {
        var entry = await FindAsync(model);
        if (ModelVersion.OfFile(entry.VqGan) is var own && own != vqgan)
            throw new ModelMismatchException($"window silo decodes model {model.Name} with VQ-GAN {own} but the job asks for VQ-GAN {vqgan}: give every window silo the same VQ-GAN for a model");
        var pixels = await host.DecodeAsync(entry, tile, cancel);
        return new DecodedTile(TileDecoder.Bytes(pixels), host.Queued(Slot));
    }

    public async Task<DecoderInfo> DecoderAsync(ModelKey model) => await host.DecoderAsync(await FindAsync(model), CancellationToken.None);

    private async Task<ModelEntry> FindAsync(ModelKey model) => await models.FindAsync(model) ?? throw new ModelMismatchException(
        models.VersionsOf(model.Name).ToList() is { Count: > 0 } versions
            ? $"window silo holds model {model.Name} of version {string.Join(", ", versions)} but the job asks for version {model.Version}: the model was given new weights; submit the job again"
            : $"window silo serves no model {model.Name} (it serves {string.Join(", ", models.Listed.Select(m => m.Name))})");

    public Task<ReplicaStatus> StatusAsync()
    {
        var (batches, requests) = host.Served(Slot);
        return Task.FromResult(new ReplicaStatus(this.GetPrimaryKeyString(), host.Loaded(), host.Device, batches, requests));
    }
}
