using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// A job's replicas on the cluster (those of its model): window passes through <see cref="OrleansWindowPool"/>, and the tiles of
/// its finished canvas spread over the window silos' replicas, several in flight at once, each sent where
/// the fewest of this job's tiles wait and, among those, where fewest window requests are queued (replicas
/// busy sampling other jobs get decode work last). A failed tile call is sent again elsewhere, as a window
/// call is (<see cref="ReplicaChoice"/>). Tiles come back in the tiling's order whatever order they finish in.
/// </summary>
public sealed class ClusterJobReplicas(IGrainFactory grains, ReplicaDirectory directory, PriorInfo prior, ModelKey model, WindowFlow flow, WindowPoolOptions options) : IJobReplicas
{
    /// <summary>Decoded pixels a job holds in flight at most (tiles sent, not yet blended).</summary>
    public const long MaxBytesInFlight = 256L << 20;

    private readonly ReplicaChoice _replicas = new(directory, options, model.Name);
    private readonly Dictionary<string, (int outstanding, int queued)> _load = new();
    private int _rotate;

    public IWindowPool Pool => field ??= new OrleansWindowPool(grains, _replicas, prior, model, options, flow);

    public async Task<DecoderInfo> DecoderAsync(CancellationToken cancel)
    {
        var live = await _replicas.LiveAsync([], cancel);
        return await _replicas.CallAsync("decode.info", live[0], (r, _) => grains.GetGrain<IWindowReplicaGrain>(r.Key).DecoderAsync(model), cancel);
    }

    public async IAsyncEnumerable<Tensor> DecodeAsync(DecodeTiling tiling, long[] tokens, string vqgan, [EnumeratorCancellation] CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var live = await _replicas.LiveAsync([], cancel);
        var tileBytes = tiling.TileFloats * (long)sizeof(float);
        var ahead = (int)Math.Clamp(MaxBytesInFlight / tileBytes, 1, Math.Max(2, 3 * live.Count));
        var pending = new Queue<Task<byte[]>>();
        var next = 0;
        try
        {
            while (next < tiling.Tiles.Count || pending.Count > 0)
            {
                while (next < tiling.Tiles.Count && pending.Count < ahead)
                {
                    var t = tiling.Tiles[next++];
                    pending.Enqueue(SendAsync(new TileRequest(tiling.Crop(tokens, t), tiling.TileHeight, tiling.TileWidth), vqgan, stop.Token));
                }
                var pixels = await pending.Dequeue();
                if (pixels.Length != tileBytes) throw new InvalidOperationException($"a replica answered a tile of {pixels.Length} bytes, expected {tileBytes}");
                var f = tiling.Downscale;
                yield return torch.from_array<float>(MemoryMarshal.Cast<byte, float>(pixels.AsSpan()), 3, (long)tiling.TileHeight * f, (long)tiling.TileWidth * f);
            }
        }
        finally
        {
            // The consumer stopped early (failure, cancellation): tiles still in flight are not wanted.
            stop.Cancel();
            foreach (var p in pending) _ = p.ContinueWith(static t => t.Exception, TaskScheduler.Default);
        }
    }

    private async Task<byte[]> SendAsync(TileRequest tile, string vqgan, CancellationToken cancel)
    {
        var first = Pick(await _replicas.LiveAsync([], cancel));
        return await _replicas.CallAsync("decode.tile", first, async (r, deadline) =>
        {
            Adjust(r.Key, +1, null);
            try
            {
                var decoded = await grains.GetGrain<IWindowReplicaGrain>(r.Key).DecodeAsync(model, vqgan, tile, deadline);
                Adjust(r.Key, 0, decoded.QueuedWindows);
                return decoded.Pixels;
            }
            finally
            {
                Adjust(r.Key, -1, null);
            }
        }, cancel);
    }

    private ReplicaAddress Pick(IReadOnlyList<ReplicaAddress> live)
    {
        lock (_load)
        {
            var start = _rotate++;
            return Enumerable.Range(0, live.Count).Select(i => live[(start + i) % live.Count])
                .OrderBy(r => _load.GetValueOrDefault(r.Key).outstanding)
                .ThenBy(r => _load.GetValueOrDefault(r.Key).queued)
                .First();
        }
    }

    private void Adjust(string key, int outstanding, int? queued)
    {
        lock (_load)
        {
            var (o, q) = _load.GetValueOrDefault(key);
            _load[key] = (o + outstanding, queued ?? q);
        }
    }
}
