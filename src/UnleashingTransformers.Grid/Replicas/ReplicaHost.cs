using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// The model replicas of a window silo: for each model it serves, one replica per slot (a CPU slot or one GPU),
/// each a one-replica <see cref="InProcessWindowPool"/>, so forward passes run on the slot's own thread, never
/// on Orleans' scheduler, and requests from many canvases are batched there; and the model's VQ-GAN
/// (<see cref="TileDecoder"/>) decoding finished canvases' tiles beside them. A model is loaded on first use;
/// when loading one would take the silo past its memory budget, the least recently used others are unloaded
/// first (what they had queued finishes on them; a later request loads them again).
/// </summary>
public sealed class ReplicaHost : IAsyncDisposable
{
    /// <summary>One model's replicas on this silo.</summary>
    private sealed class LoadedModel(ModelKey key, long bytes)
    {
        public readonly ModelKey Key = key;
        public readonly long Bytes = bytes;
        public InProcessWindowPool[] Pools = [];
        public ReplicaModel[] Models = [];
        public TileDecoder? Decoder;
        public long LastUsed;
        public volatile bool Retired;
    }

    private readonly object _gate = new();
    private readonly Dictionary<ModelKey, (LoadedModel loaded, Task ready)> _models = new();
    private readonly Func<ModelEntry, ReplicaModel> _load;
    private readonly Func<ModelEntry, int, TileDecoder>? _decoder;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxWait;
    private readonly long _budget;
    private readonly long[] _retiredBatches, _retiredRequests;
    private readonly List<Task> _retiring = new();
    private readonly List<LoadedModel> _draining = new();   // unloaded, still finishing queued work: still counted by Served
    private long _clock;

    public string Device { get; }
    public int Count { get; }

    /// <param name="load">A replica of the model (one a slot).</param>
    /// <param name="decoder">The model's VQ-GAN for tile decodes, given the prior's codebook size (null: this host decodes nothing).</param>
    /// <param name="memoryBudget">Bytes the loaded models may take in all (<see cref="ModelEntry.Bytes"/>); 0: no bound.</param>
    public ReplicaHost(Func<ModelEntry, ReplicaModel> load, int count, int maxBatch, TimeSpan maxWait, string device, Func<ModelEntry, int, TileDecoder>? decoder = null, long memoryBudget = 0)
    {
        (_load, Count, _maxBatch, _maxWait, Device, _decoder, _budget) = (load, count, maxBatch, maxWait, device, decoder, memoryBudget);
        (_retiredBatches, _retiredRequests) = (new long[count], new long[count]);
    }

    /// <summary>Loads <paramref name="model"/> now (a silo's first model, before it joins, so a joined silo can serve).</summary>
    public Task PreloadAsync(ModelEntry model) => Use(model).ready;

    /// <summary>The models loaded now, most recently used first.</summary>
    public ModelKey[] Loaded()
    {
        lock (_gate) return [.. _models.Values.Where(m => m.ready.IsCompletedSuccessfully).OrderByDescending(m => m.loaded.LastUsed).Select(m => m.loaded.Key)];
    }

    /// <summary>Window requests queued at the slot (all its models), not yet computed.</summary>
    public int Queued(int slot)
    {
        lock (_gate) return _models.Values.Where(m => m.ready.IsCompletedSuccessfully).Sum(m => m.loaded.Pools[slot].Queued);
    }

    public (long batches, long requests) Served(int slot)
    {
        lock (_gate)
        {
            var (batches, requests) = (_retiredBatches[slot], _retiredRequests[slot]);
            var serving = _models.Values.Where(m => m.ready.IsCompletedSuccessfully).Select(m => m.loaded);
            foreach (var loaded in serving.Concat(_draining))
            {
                var counts = loaded.Pools[slot].Counts;
                (batches, requests) = (batches + counts.batches, requests + counts.requests);
            }
            return (batches, requests);
        }
    }

    public async Task<WindowResult[]> EvaluateAsync(int slot, ModelEntry model, WindowFlow flow, WindowRequest[] requests, CancellationToken cancel)
    {
        while (true)
        {
            var loaded = await ReadyAsync(model, cancel);
            try
            {
                return [.. await loaded.Pools[slot].EvaluateAsync(requests, flow, cancel)];
            }
            catch (InvalidOperationException) when (loaded.Retired)
            {
                // Unloaded between the look and the queue: loaded again on the next turn.
            }
        }
    }

    /// <summary>The tile's pixels from <paramref name="model"/>'s VQ-GAN.</summary>
    public async Task<float[]> DecodeAsync(ModelEntry model, TileRequest tile, CancellationToken cancel)
    {
        while (true)
        {
            var loaded = await ReadyAsync(model, cancel);
            try
            {
                return await Decoder(loaded).DecodeAsync(tile, cancel);
            }
            catch (InvalidOperationException) when (loaded.Retired)
            {
            }
        }
    }

    /// <summary><paramref name="model"/>'s VQ-GAN: version, scale and palette (the palette computed on first use).</summary>
    public async Task<DecoderInfo> DecoderAsync(ModelEntry model, CancellationToken cancel)
    {
        var decoder = Decoder(await ReadyAsync(model, cancel));
        return await Task.Factory.StartNew(() => decoder.Info, cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static TileDecoder Decoder(LoadedModel loaded) => loaded.Decoder ?? throw new InvalidOperationException("this window silo decodes nothing: it has no VQ-GAN");

    private async Task<LoadedModel> ReadyAsync(ModelEntry model, CancellationToken cancel)
    {
        var (loaded, ready) = Use(model);
        await ready.WaitAsync(cancel);
        return loaded;
    }

    private (LoadedModel loaded, Task ready) Use(ModelEntry model)
    {
        var key = model.Key;
        lock (_gate)
        {
            if (_models.TryGetValue(key, out var known) && !known.ready.IsFaulted)
            {
                known.loaded.LastUsed = ++_clock;
                return known;
            }
            var loaded = new LoadedModel(key, model.Bytes(Count, _decoder is not null)) { LastUsed = ++_clock };
            // Room first: the least recently used models go (those still loading stay: someone waits for them).
            var used = _models.Values.Sum(m => m.loaded.Bytes);
            foreach (var (old, _) in _models.Values.Where(m => m.ready.IsCompleted).OrderBy(m => m.loaded.LastUsed).ToList())
            {
                if (_budget == 0 || used + loaded.Bytes <= _budget) break;
                used -= old.Bytes;
                Unload(old, $"to load {key} within Window:MemoryBudgetMb {_budget >> 20}");
            }
            if (_budget > 0 && used + loaded.Bytes > _budget)
                Console.WriteLine($"silo: model {key} ({loaded.Bytes >> 20} MB) loads past Window:MemoryBudgetMb {_budget >> 20}: the models in use take {used >> 20} MB");
            // Loading weights takes seconds: on a thread of its own, not on the scheduler's.
            var ready = Task.Factory.StartNew(() => Load(model, loaded), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _models[key] = (loaded, ready);
            return (loaded, ready);
        }
    }

    private void Load(ModelEntry model, LoadedModel loaded)
    {
        var models = new List<ReplicaModel>();
        try
        {
            for (var i = 0; i < Count; i++) models.Add(_load(model));
            loaded.Decoder = _decoder?.Invoke(model, models[0].Denoiser.CodebookSize);
        }
        catch
        {
            foreach (var m in models) m.Owner?.Dispose();
            lock (_gate) _models.Remove(loaded.Key);
            throw;
        }
        loaded.Models = [.. models];
        loaded.Pools = [.. models.Select(m => new InProcessWindowPool([m.Denoiser], _maxBatch, _maxWait, loaded.Key.Name))];
        GridTelemetry.CountLoad(loaded.Key.Name);
        Console.WriteLine($"silo: loaded model {loaded.Key} ({Count} replica(s), {loaded.Bytes >> 20} MB)");
    }

    /// <summary>Takes the model out of service (under the gate); its queued work finishes, then it is disposed.</summary>
    private void Unload(LoadedModel old, string why)
    {
        _models.Remove(old.Key);
        old.Retired = true;
        _draining.Add(old);
        GridTelemetry.CountUnload(old.Key.Name);
        Console.WriteLine($"silo: unloaded model {old.Key} {why}");
        _retiring.Add(Task.Run(() => RetireAsync(old)));
    }

    private async Task RetireAsync(LoadedModel old)
    {
        foreach (var pool in old.Pools) await pool.DisposeAsync();
        lock (_gate)
        {
            // Moved to the totals in the same step as it leaves the draining list, so Served never misses or doubles it.
            for (var slot = 0; slot < old.Pools.Length; slot++)
            {
                var (batches, requests, _) = old.Pools[slot].Counts;
                (_retiredBatches[slot], _retiredRequests[slot]) = (_retiredBatches[slot] + batches, _retiredRequests[slot] + requests);
            }
            _draining.Remove(old);
        }
        old.Decoder?.Dispose();
        foreach (var m in old.Models) m.Owner?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        List<(LoadedModel loaded, Task ready)> all;
        lock (_gate)
        {
            all = [.. _models.Values];
            _models.Clear();
        }
        foreach (var (loaded, ready) in all)
        {
            try
            {
                await ready;
            }
            catch (Exception)
            {
                continue;   // reported to whoever waited for it
            }
            loaded.Retired = true;
            await RetireAsync(loaded);
        }
        Task[] retiring;
        lock (_gate) retiring = [.. _retiring];
        await Task.WhenAll(retiring);
    }
}
