using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Canvas;

/// <summary>In which order a canvas reveals tokens.</summary>
public enum RevealOrder
{
    /// <summary>The prior's 1/t law over the whole canvas in S steps: many tokens per step.</summary>
    Parallel,
    /// <summary>The reference's big-sample order: one token per step, row-major (fidelity mode).</summary>
    Raster,
}

/// <summary>A canvas job's parameters, checked and resolved from a <c>CanvasJobSpec</c> (whose defaults are the
/// only ones: <c>JobSpecs.ToOptions</c>). Its output depends on these, the weights and the seed only.</summary>
public sealed record CanvasOptions(
    int Height, int Width,
    int WindowHeight, int WindowWidth,
    int StrideH, int StrideW,
    int Steps,
    double Temperature,
    ulong Seed,
    AggregationKind Aggregate,
    RevealOrder Order)
{
    public int Cells => Height * Width;
}

/// <summary>Where a canvas job is, after each step.</summary>
public readonly record struct CanvasProgress(int Step, int Steps, long Revealed, long Total, long WindowPasses, long Distributions);

/// <summary>
/// Generates a token canvas larger than the prior's window (spec 6, generalised). Each step: the
/// schedule picks the positions R to reveal; the windows covering R (only those) are asked, through the
/// pool, for distributions at R's positions inside them (only those); each position's distributions are
/// aggregated (mean, Gaussian-weighted or product of experts), tempered, sampled and written. Every draw
/// is keyed by (seed, step, position), so the canvas does not depend on how windows are batched, on how
/// many replicas serve them, or on which one. A canvas exactly one window large follows the same path
/// as <see cref="AbsorbingSampler"/> (same schedule, same draws, the one window's distribution as is),
/// so it equals <c>ut sample</c>'s sample 0 for the seed.
/// </summary>
public sealed class CanvasCoordinator
{
    private readonly IWindowPool _pool;
    private readonly IRevealSchedule _schedule;
    private readonly List<int> _masked;
    private long _nextRequest;

    public CanvasOptions Options { get; }
    public WindowTiling Tiling { get; }
    public long[] Tokens { get; }
    public int Step { get; private set; }
    public long WindowPasses { get; private set; }
    public long Distributions { get; private set; }
    public bool Done => Step >= _schedule.Steps || _masked.Count == 0;
    /// <summary>Positions holding a token so far.</summary>
    public long Revealed => Options.Cells - _masked.Count;

    /// <summary>Windows asked for at each step (for tests and diagnostics), when recording.</summary>
    public List<(int step, int[] positions, int[] windows)>? Trace { get; set; }

    public CanvasCoordinator(IWindowPool pool, CanvasOptions options, long[]? tokens = null, int step = 0)
    {
        if (options.WindowHeight * options.WindowWidth != pool.WindowLength)
            throw new ArgumentException($"window {options.WindowHeight}x{options.WindowWidth} holds {options.WindowHeight * options.WindowWidth} tokens but the prior's block size is {pool.WindowLength}");
        if (!(options.Temperature > 0)) throw new ArgumentException("--temp must be > 0");
        _pool = pool;
        Options = options;
        Tiling = new WindowTiling(options.Height, options.Width, options.WindowHeight, options.WindowWidth, options.StrideH, options.StrideW);
        _schedule = options.Order == RevealOrder.Raster ? new RasterRevealSchedule(options.Cells) : new ReciprocalRevealSchedule(options.Steps);
        Tokens = tokens ?? Enumerable.Repeat((long)pool.MaskId, options.Cells).ToArray();
        if (Tokens.Length != options.Cells) throw new ArgumentException("saved canvas does not match the canvas size");
        _masked = Enumerable.Range(0, options.Cells).Where(i => Tokens[i] == pool.MaskId).ToList();
        Step = step;
    }

    public int Steps => _schedule.Steps;

    public async Task<long[]> RunAsync(Action<CanvasProgress>? progress = null, CancellationToken cancel = default)
    {
        while (!Done)
        {
            cancel.ThrowIfCancellationRequested();
            await StepAsync(cancel);
            progress?.Invoke(new CanvasProgress(Step, Steps, Revealed, Options.Cells, WindowPasses, Distributions));
        }
        return Tokens;
    }

    /// <summary>Runs one step of the schedule.</summary>
    public async Task StepAsync(CancellationToken cancel = default)
    {
        using var activity = GridTelemetry.Source.StartActivity("canvas.step");
        activity?.SetTag("ut.step", Step);
        var reveal = new List<int>();
        _schedule.Candidates(Step, _masked, Options.Seed, 0, reveal);
        if (reveal.Count > 0)
        {
            var (wh, ww, W) = (Options.WindowHeight, Options.WindowWidth, Options.Width);
            // Which windows cover the positions being revealed, and where those positions sit in them.
            var byWindow = new SortedDictionary<int, List<(int pos, int local)>>();
            foreach (var p in reveal)
                foreach (var w in Tiling.Covering(p / W, p % W))
                {
                    if (!byWindow.TryGetValue(w.Id, out var list)) byWindow[w.Id] = list = new();
                    list.Add((p, (p / W - w.Top) * ww + (p % W - w.Left)));
                }
            var requests = byWindow.Select(kv => new WindowRequest(_nextRequest++, kv.Key, Crop(Tiling.Windows[kv.Key]), kv.Value.Select(v => v.local).ToArray())).ToList();
            Trace?.Add((Step, reveal.ToArray(), byWindow.Keys.ToArray()));
            activity?.SetTag("ut.reveal", reveal.Count);
            activity?.SetTag("ut.windows", requests.Count);
            var results = (await _pool.EvaluateAsync(requests, cancel)).ToDictionary(r => r.RequestId);
            WindowPasses += requests.Count;

            var K = _pool.CodebookSize;
            var opinions = reveal.ToDictionary(p => p, _ => new List<Opinion>());
            foreach (var request in requests)
            {
                var probabilities = MemoryMarshal.Cast<byte, float>(results[request.RequestId].Probabilities).ToArray();
                if (probabilities.Length != request.Positions.Length * K)
                    throw new InvalidOperationException($"window {request.WindowId}: {probabilities.Length} probabilities for {request.Positions.Length} positions");
                Distributions += request.Positions.Length;
                var w = Tiling.Windows[request.WindowId];
                var entries = byWindow[request.WindowId];
                for (var i = 0; i < entries.Count; i++)
                {
                    var p = entries[i].pos;
                    opinions[p].Add(new Opinion(probabilities.AsMemory(i * K, K), p / W - w.Top, p % W - w.Left));
                }
            }
            var drawn = new List<(int pos, long token, double p)>();
            foreach (var p in reveal)
            {
                var ops = opinions[p];
                // One opinion is used as is: a one-window canvas is exactly the plain sampler.
                var row = ops.Count == 1 ? ops[0].Probabilities.Span : Aggregation.Combine(ops, Options.Aggregate, wh, ww);
                var u = CounterRng.Uniform(Options.Seed, 0, Step, p, CounterRng.Purpose.Token);
                var token = Categorical.Sample(row, Options.Temperature, u);
                drawn.Add((p, token, row[token]));
            }
            var chosen = _schedule.Select(Step, reveal, drawn.Select(d => d.p).ToList());
            var keep = chosen.Count == drawn.Count ? null : new HashSet<int>(chosen);
            foreach (var (p, token, _) in drawn)
            {
                if (keep is not null && !keep.Contains(p)) continue;
                Tokens[p] = token;
                _masked.Remove(p);
            }
            GridTelemetry.TokensRevealed.Add(keep?.Count ?? drawn.Count);
        }
        Step++;
    }

    private long[] Crop(Window w)
    {
        var (wh, ww, W) = (Options.WindowHeight, Options.WindowWidth, Options.Width);
        var crop = new long[wh * ww];
        for (var r = 0; r < wh; r++) Array.Copy(Tokens, (w.Top + r) * W + w.Left, crop, r * ww, ww);
        return crop;
    }
}
