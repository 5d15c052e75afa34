using Orleans.Concurrency;
using Orleans.Placement;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Placement;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>
/// One model replica, keyed <c>"{silo}/{slot}"</c> and pinned to that silo. Reentrant: calls from many
/// canvases enter while a batch runs, and the slot's thread batches them. Never collected while its
/// silo lives, never moved.
/// </summary>
[SiloPinnedPlacement, Reentrant, KeepAlive, Immovable]
public sealed class WindowReplicaGrain(ReplicaHost host) : Grain, IWindowReplicaGrain
{
    private int Slot => int.Parse(this.GetPrimaryKeyString().Split('/')[1]);

    public Task<WindowResult[]> EvaluateAsync(string model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel = default) =>
        host.EvaluateAsync(Slot, model, flow, requests, cancel);

    public async Task<string> ReloadAsync(string priorPath)
    {
        // Loading weights takes seconds: on a thread of its own, not on the scheduler's.
        var slot = Slot;
        var version = await Task.Factory.StartNew(() => host.Reload(slot, priorPath), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Console.WriteLine($"silo: window replica {slot} reloaded {priorPath} (model {version})");
        return version;
    }

    public async Task<DecodedTile> DecodeAsync(string vqgan, TileRequest tile, CancellationToken cancel = default)
    {
        var decoder = Decoder;
        if (decoder.Version != vqgan)
            throw new ModelMismatchException($"window replica decodes with VQ-GAN {decoder.Version} but the job asks for VQ-GAN {vqgan}: give every window silo the same Models:VqGan");
        var pixels = await decoder.DecodeAsync(tile, cancel);
        return new DecodedTile(TileDecoder.Bytes(pixels), host.Queued(Slot));
    }

    public async Task<DecoderInfo> DecoderAsync()
    {
        // The palette decodes every code once (a second or so): on a thread of its own, not on the scheduler's.
        var decoder = Decoder;
        return await Task.Factory.StartNew(() => decoder.Info, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private TileDecoder Decoder => host.Decoder ?? throw new InvalidOperationException("this window silo has no VQ-GAN: set Models:VqGan");

    public Task<ReplicaStatus> StatusAsync()
    {
        var (batches, requests) = host.Served(Slot);
        return Task.FromResult(new ReplicaStatus(this.GetPrimaryKeyString(), host.Version(Slot), host.Device, batches, requests));
    }
}
