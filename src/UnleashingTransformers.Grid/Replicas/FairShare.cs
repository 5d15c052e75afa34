namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Pending work of many flows (jobs), served by weighted fair queuing: each flow keeps its own FIFO, and the
/// next item taken is the head with the smallest virtual finish tag (start-time fair queuing, one unit of work
/// an item): while several flows wait, each gets a share of the takes in proportion to its weight, whatever it
/// queued. So a small job's windows are not stuck behind thousands of a big job's, and the big job still gets
/// every take nobody else wants. Thread-safe; takers block until an item comes or adding is complete.
/// </summary>
public sealed class FairShare<T>
{
    private sealed class Flow
    {
        public readonly Queue<(T item, double tag)> Items = new();
        public double LastTag;
    }

    private readonly object _lock = new();
    private readonly Dictionary<string, Flow> _flows = new();
    private double _virtualTime;
    private int _count;
    private bool _completed;

    public int Count
    {
        get
        {
            lock (_lock) return _count;
        }
    }

    /// <summary>Queues <paramref name="item"/> for <paramref name="flow"/>, whose share is in proportion to <paramref name="weight"/>.</summary>
    public void Add(string flow, double weight, T item)
    {
        if (!(weight > 0)) throw new ArgumentOutOfRangeException(nameof(weight), weight, "a flow's weight must be > 0");
        lock (_lock)
        {
            if (_completed) throw new InvalidOperationException("the queue takes no more items");
            if (!_flows.TryGetValue(flow, out var f)) _flows[flow] = f = new Flow();
            var tag = Math.Max(_virtualTime, f.LastTag) + 1 / weight;
            f.LastTag = tag;
            f.Items.Enqueue((item, tag));
            _count++;
            Monitor.Pulse(_lock);
        }
    }

    /// <summary>The next item, waiting up to <paramref name="timeout"/> for one; false when none came (or adding is complete and the queue empty).</summary>
    public bool TryTake(out T item, TimeSpan timeout)
    {
        lock (_lock)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (_count == 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (_completed || left <= TimeSpan.Zero || !Monitor.Wait(_lock, left))
                {
                    if (_count > 0) break;
                    item = default!;
                    return false;
                }
            }
            item = TakeLocked();
            return true;
        }
    }

    /// <summary>Items as they come, blocking between them, until adding is complete and the queue is empty.</summary>
    public IEnumerable<T> GetConsumingEnumerable()
    {
        while (true)
        {
            T item;
            lock (_lock)
            {
                while (_count == 0 && !_completed) Monitor.Wait(_lock);
                if (_count == 0) yield break;
                item = TakeLocked();
            }
            yield return item;
        }
    }

    /// <summary>Each waiting flow's first item (its oldest).</summary>
    public T[] Heads()
    {
        lock (_lock) return [.. _flows.Values.Select(f => f.Items.Peek().item)];
    }

    public void CompleteAdding()
    {
        lock (_lock)
        {
            _completed = true;
            Monitor.PulseAll(_lock);
        }
    }

    private T TakeLocked()
    {
        string? best = null;
        var bestTag = double.MaxValue;
        foreach (var (name, f) in _flows)
        {
            var tag = f.Items.Peek().tag;
            if (tag < bestTag || tag == bestTag && string.CompareOrdinal(name, best) < 0) (best, bestTag) = (name, tag);
        }
        var flow = _flows[best!];
        var (item, taken) = flow.Items.Dequeue();
        _virtualTime = taken;
        if (flow.Items.Count == 0) _flows.Remove(best!);
        _count--;
        return item;
    }
}
