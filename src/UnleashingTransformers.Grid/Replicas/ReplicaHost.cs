using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// The model replicas of a window silo, one slot each (a CPU slot or one GPU): each slot is a one-replica
/// <see cref="InProcessWindowPool"/>, so its forward passes run on the slot's own thread, never on
/// Orleans' scheduler, and requests from many canvases are batched there. New weights replace a slot's
/// pool between batches: what was queued finishes on the old weights it was checked against. The silo's
/// VQ-GAN (<see cref="Decoder"/>) decodes finished canvases' tiles beside the window passes.
/// </summary>
public sealed class ReplicaHost : IAsyncDisposable
{
    private sealed record Slot(InProcessWindowPool Pool, ReplicaModel Model);

    private readonly Slot[] _slots;
    private readonly Func<string?, ReplicaModel> _load;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxWait;
    private long _retiredBatches, _retiredRequests;

    public string Device { get; }
    public int Count => _slots.Length;
    /// <summary>The silo's VQ-GAN, decoding canvas tiles (null: this host decodes nothing).</summary>
    public TileDecoder? Decoder { get; }

    /// <param name="load">A replica of the given prior file (null: the configured one).</param>
    public ReplicaHost(Func<string?, ReplicaModel> load, int count, int maxBatch, TimeSpan maxWait, string device, TileDecoder? decoder = null)
    {
        (_load, _maxBatch, _maxWait, Device, Decoder) = (load, maxBatch, maxWait, device, decoder);
        _slots = new Slot[count];
        for (var i = 0; i < count; i++) _slots[i] = Open(load(null));
    }

    private Slot Open(ReplicaModel model) => new(new InProcessWindowPool([model.Denoiser], _maxBatch, _maxWait), model);

    public string Version(int slot) => Volatile.Read(ref _slots[slot]).Model.Version;

    /// <summary>Window requests queued at the slot, not yet computed.</summary>
    public int Queued(int slot) => Volatile.Read(ref _slots[slot]).Pool.Queued;

    public (long batches, long requests) Served(int slot)
    {
        var counts = Volatile.Read(ref _slots[slot]).Pool.Counts;
        return (counts.batches + Interlocked.Read(ref _retiredBatches), counts.requests + Interlocked.Read(ref _retiredRequests));
    }

    public async Task<WindowResult[]> EvaluateAsync(int slot, string model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel)
    {
        while (true)
        {
            var current = Volatile.Read(ref _slots[slot]);
            if (current.Model.Version != model)
                throw new ModelMismatchException($"window replica holds model {current.Model.Version} but the job asks for model {model}: " +
                    "the replicas were given new weights; submit the job again");
            try
            {
                return [.. await current.Pool.EvaluateAsync(requests, flow, cancel)];
            }
            catch (InvalidOperationException) when (!ReferenceEquals(current, Volatile.Read(ref _slots[slot])))
            {
                // The slot was swapped between the check and the queue: check again against the new weights.
            }
        }
    }

    /// <summary>Loads <paramref name="path"/> into the slot (blocking: call it off the grain scheduler);
    /// returns the new weights' version.</summary>
    public string Reload(int slot, string path)
    {
        var fresh = Open(_load(path));
        var old = Interlocked.Exchange(ref _slots[slot], fresh);
        _ = RetireAsync(old);
        return fresh.Model.Version;
    }

    private async Task RetireAsync(Slot old)
    {
        await old.Pool.DisposeAsync();
        var (batches, requests, _) = old.Pool.Counts;
        Interlocked.Add(ref _retiredBatches, batches);
        Interlocked.Add(ref _retiredRequests, requests);
        old.Model.Owner?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var slot in _slots)
        {
            await slot.Pool.DisposeAsync();
            slot.Model.Owner?.Dispose();
        }
        Decoder?.Dispose();
    }
}
