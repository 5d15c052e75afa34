using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Window passes on model replicas in this process: one thread per replica (each with its own model
/// instance and device), all pulling from one queue and batching dynamically: a replica takes what is
/// queued, up to <c>maxBatch</c>, waiting at most <c>maxWait</c> for a batch to fill. When little is
/// queued (a canvas step often needs only a few windows) a replica takes its fair share,
/// ⌈queued / replicas⌉, so the others get work too instead of idling. The queue is fair across jobs
/// (<see cref="FairShare{T}"/>, weighted by priority): a batch may hold windows of several jobs, each still in
/// a forward pass of its own.
/// </summary>
public sealed class InProcessWindowPool : IWindowPool
{
    private readonly FairShare<(WindowRequest request, TaskCompletionSource<WindowResult> done, long queued)> _queue = new();
    private readonly List<Thread> _threads = new();
    private readonly int _maxBatch;
    private readonly TimeSpan _maxWait;
    private long _batches, _requests, _positions;
    private readonly IDisposable _depth;

    public int WindowLength { get; }
    public int CodebookSize { get; }
    public int MaskId { get; }
    public Corruption Corruption { get; }
    public int Replicas => _threads.Count;
    /// <summary>Requests waiting for a replica.</summary>
    public int Queued => _queue.Count;

    /// <summary>Batches run, requests served and distributions returned so far.</summary>
    public (long batches, long requests, long positions) Counts => (Interlocked.Read(ref _batches), Interlocked.Read(ref _requests), Interlocked.Read(ref _positions));

    /// <param name="model">The model's name, as the queue metrics tag it (a window silo's pools, one per model).</param>
    public InProcessWindowPool(IReadOnlyList<ITokenDenoiser> replicas, int maxBatch = 8, TimeSpan? maxWait = null, string model = "")
    {
        if (replicas.Count == 0) throw new ArgumentException("at least one replica");
        if (maxBatch < 1) throw new SettingException(SettingNames.WindowBatch, "must be >= 1");
        (WindowLength, CodebookSize, MaskId, Corruption) = (replicas[0].Length, replicas[0].CodebookSize, replicas[0].MaskId, replicas[0].Corruption);
        _maxBatch = maxBatch;
        _maxWait = maxWait ?? TimeSpan.FromMilliseconds(2);
        _depth = GridTelemetry.TrackQueue(model, () => _queue.Count, OldestWait);
        foreach (var (replica, i) in replicas.Select((r, i) => (r, i)))
        {
            GridTelemetry.Replicas.Add(1);
            var t = new Thread(() => Serve(replica)) { IsBackground = true, Name = $"window-replica-{i}" };
            t.Start();
            _threads.Add(t);
        }
    }

    public Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default) =>
        EvaluateAsync(requests, WindowFlow.Anonymous, cancel);

    /// <summary>The windows of <paramref name="flow"/>, which shares the replicas fairly with the other flows waiting.</summary>
    public Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, WindowFlow flow, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        var tasks = new List<Task<WindowResult>>(requests.Count);
        foreach (var r in requests)
        {
            if (r.Tokens.Length != WindowLength) throw new ArgumentException($"request {r.RequestId}: {r.Tokens.Length} tokens, the window holds {WindowLength}");
            var tcs = new TaskCompletionSource<WindowResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            cancel.Register(() => tcs.TrySetCanceled(cancel));
            _queue.Add(flow.Job, JobPriorities.Weight(flow.Priority), (r, tcs, Stopwatch.GetTimestamp()));
            tasks.Add(tcs.Task);
        }
        return WhenAll(tasks);
    }

    /// <summary>How long the oldest queued request has waited.</summary>
    private TimeSpan OldestWait()
    {
        var heads = _queue.Heads();
        return heads.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(heads.Min(h => h.queued));
    }

    private static async Task<IReadOnlyList<WindowResult>> WhenAll(List<Task<WindowResult>> tasks) => await Task.WhenAll(tasks);

    private void Serve(ITokenDenoiser replica)
    {
        var batch = new List<(WindowRequest request, TaskCompletionSource<WindowResult> done, long queued)>();
        foreach (var first in _queue.GetConsumingEnumerable())
        {
            batch.Clear();
            batch.Add(first);
            var share = Math.Min(_maxBatch, Math.Max(1, (_queue.Count + 1 + _threads.Count - 1) / _threads.Count));
            var sw = Stopwatch.StartNew();
            while (batch.Count < share)
            {
                var left = _maxWait - sw.Elapsed;
                if (!_queue.TryTake(out var next, left > TimeSpan.Zero ? left : TimeSpan.Zero)) break;
                batch.Add(next);
            }
            foreach (var b in batch) GridTelemetry.QueueTime.Record(Stopwatch.GetElapsedTime(b.queued).TotalMilliseconds);
            try
            {
                var results = WindowBatch.Run(replica, batch.Select(b => b.request).ToList(), out _);
                for (var i = 0; i < batch.Count; i++) batch[i].done.TrySetResult(results[i]);
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _requests, batch.Count);
                Interlocked.Add(ref _positions, batch.Sum(b => b.request.Positions.Length));
            }
            catch (Exception e)
            {
                foreach (var (_, done, _) in batch) done.TrySetException(e);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _depth.Dispose();
        _queue.CompleteAdding();
        foreach (var t in _threads) t.Join();
        GridTelemetry.Replicas.Add(-_threads.Count);
        return ValueTask.CompletedTask;
    }
}
