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
    TokenSampling Sampling,
    ulong Seed,
    AggregationKind Aggregate,
    RevealOrder Order,
    ScheduleChoice Schedule,
    TilingKind Tiling)
{
    public int Cells => Height * Width;
}

/// <summary>Where a canvas job is, after each step.</summary>
public readonly record struct CanvasProgress(int Step, int Steps, long Revealed, long Total, long WindowPasses, long Distributions);

/// <summary>
/// Generates a token canvas larger than the prior's window (spec 6, generalised). Each step: the
/// schedule picks the candidate positions R; the windows covering R (only those) are asked, through the
/// pool, for distributions at R's positions inside them (only those); each position's distributions are
/// aggregated (mean, Gaussian-weighted or product of experts), and the step's <see cref="RevealStep"/>
/// draws, selects and writes, as in <see cref="AbsorbingSampler"/>. Every draw is keyed by (seed, step,
/// position), so the canvas does not depend on how windows are batched, on how many replicas serve them,
/// or on which one. A canvas exactly one window large takes the sampler's path (same step, same draws,
/// the one window's distribution as is), so it equals <c>ut sample</c>'s sample 0 for the seed. A canvas
/// may start with tokens in place (a resumed job, inpainting, outpainting): only masked positions are drawn.
/// </summary>
public sealed class CanvasCoordinator
{
    private readonly IWindowPool _pool;
    private readonly RevealStep _step;
    private readonly MaskedPositions _masked;
    private long _nextRequest;

    public CanvasOptions Options { get; }
    /// <summary>The overlapping windows (with <see cref="TilingKind.Overlap"/>).</summary>
    public WindowTiling Tiling { get; }
    /// <summary>The shifting windows, with <see cref="TilingKind.Shifted"/>.</summary>
    public ShiftedTiling? Shifted { get; }
    public long[] Tokens { get; }
    public int Step { get; private set; }
    public long WindowPasses { get; private set; }
    public long Distributions { get; private set; }
    public bool Done => Step >= _step.Steps || _masked.Count == 0;
    /// <summary>Positions holding a token so far.</summary>
    public long Revealed => Options.Cells - _masked.Count;

    /// <summary>Windows asked for at each step (for tests and diagnostics), when recording.</summary>
    public List<(int step, int[] positions, int[] windows)>? Trace { get; set; }

    public CanvasCoordinator(IWindowPool pool, CanvasOptions options, long[]? tokens = null, int step = 0)
    {
        if (options.WindowHeight * options.WindowWidth != pool.WindowLength)
            throw new ArgumentException($"window {options.WindowHeight}x{options.WindowWidth} holds {options.WindowHeight * options.WindowWidth} tokens but the prior's block size is {pool.WindowLength}");
        _pool = pool;
        Options = options;
        Tiling = new WindowTiling(options.Height, options.Width, options.WindowHeight, options.WindowWidth, options.StrideH, options.StrideW);
        if (options.Tiling == TilingKind.Shifted)
        {
            if (options.Order == RevealOrder.Raster) throw new ArgumentException("tiling shifted is for the parallel order; the raster order is the reference's stride-1 windows");
            Shifted = new ShiftedTiling(options.Height, options.Width, options.WindowHeight, options.WindowWidth, options.Seed);
        }
        var schedule = options.Order == RevealOrder.Raster
            ? new RasterRevealSchedule(options.Cells)
            : options.Schedule.Create(options.Steps, options.Height, options.Width);
        _step = new RevealStep(schedule, options.Sampling.Checked());
        Tokens = tokens ?? Enumerable.Repeat((long)pool.MaskId, options.Cells).ToArray();
        if (Tokens.Length != options.Cells) throw new ArgumentException("saved canvas does not match the canvas size");
        if (Tokens.Any(t => t < 0 || t > pool.MaskId)) throw new ArgumentException($"canvas holds a token id outside 0..{pool.MaskId - 1} (or the mask, {pool.MaskId})");
        _masked = new MaskedPositions(Tokens, pool.MaskId);
        Step = step;
    }

    public int Steps => _step.Steps;

    /// <summary>What a canvas of <paramref name="cells"/> tokens holds for its whole run: the tokens (8 bytes each) and
    /// the mask (a flag and a list entry each); a step adds what its candidates need.</summary>
    public static long Bytes(long cells) => cells * (sizeof(long) + sizeof(bool) + sizeof(int));

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
        var candidates = new List<int>();
        _step.Candidates(Step, _masked, Options.Seed, 0, candidates);
        if (candidates.Count > 0)
        {
            var (wh, ww, W) = (Options.WindowHeight, Options.WindowWidth, Options.Width);
            // Which windows serve the candidate positions, and where those positions sit in them.
            var byWindow = new SortedDictionary<int, (Window window, List<(int index, int local)> entries)>();
            for (var i = 0; i < candidates.Count; i++)
            {
                var p = candidates[i];
                foreach (var w in Covering(p / W, p % W))
                {
                    if (!byWindow.TryGetValue(w.Id, out var at)) byWindow[w.Id] = at = (w, new());
                    at.entries.Add((i, (p / W - w.Top) * ww + (p % W - w.Left)));
                }
            }
            var requests = byWindow.Select(kv => new WindowRequest(_nextRequest++, kv.Key, Crop(kv.Value.window), kv.Value.entries.Select(v => v.local).ToArray())).ToList();
            Trace?.Add((Step, candidates.ToArray(), byWindow.Keys.ToArray()));
            activity?.SetTag("ut.reveal", candidates.Count);
            activity?.SetTag("ut.windows", requests.Count);
            var results = (await _pool.EvaluateAsync(requests, cancel)).ToDictionary(r => r.RequestId);
            WindowPasses += requests.Count;

            var K = _pool.CodebookSize;
            var opinions = new List<Opinion>[candidates.Count];
            for (var i = 0; i < opinions.Length; i++) opinions[i] = new List<Opinion>(1);
            foreach (var request in requests)
            {
                var probabilities = MemoryMarshal.Cast<byte, float>(results[request.RequestId].Probabilities).ToArray();
                if (probabilities.Length != request.Positions.Length * K)
                    throw new InvalidOperationException($"window {request.WindowId}: {probabilities.Length} probabilities for {request.Positions.Length} positions");
                Distributions += request.Positions.Length;
                var (w, entries) = byWindow[request.WindowId];
                for (var e = 0; e < entries.Count; e++)
                {
                    var p = candidates[entries[e].index];
                    opinions[entries[e].index].Add(new Opinion(probabilities.AsMemory(e * K, K), p / W - w.Top, p % W - w.Left));
                }
            }
            // One opinion is used as is: a one-window canvas is exactly the plain sampler.
            var revealed = _step.Reveal(Step, candidates,
                i => opinions[i].Count == 1 ? opinions[i][0].Probabilities.Span : Aggregation.Combine(opinions[i], Options.Aggregate, wh, ww),
                Options.Seed, 0, Tokens, _masked);
            GridTelemetry.TokensRevealed.Add(revealed);
        }
        Step++;
    }

    private IEnumerable<Window> Covering(int row, int col) =>
        Shifted is null ? Tiling.Covering(row, col) : [Shifted.Owner(Step, row, col)];

    private long[] Crop(Window w)
    {
        var (wh, ww, W) = (Options.WindowHeight, Options.WindowWidth, Options.Width);
        var crop = new long[wh * ww];
        for (var r = 0; r < wh; r++) Array.Copy(Tokens, (w.Top + r) * W + w.Left, crop, r * ww, ww);
        return crop;
    }
}
