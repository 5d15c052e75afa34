using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;

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
/// Generates a token canvas larger than the prior's window (docs/grid.md). Each step: the
/// schedule picks the candidate positions R; the windows covering R (only those) are asked, through the
/// pool, for distributions at R's positions inside them (only those); each position's distributions are
/// aggregated (mean, Gaussian-weighted or product of experts), and the prior's <see cref="ITokenStep"/> (the
/// absorbing reveal, or SUNDAE's refinement) draws, selects and writes, as in <see cref="TokenSampler"/>. Every draw is keyed by (seed, step,
/// position), so the canvas does not depend on how windows are batched, on how many replicas serve them,
/// or on which one. A canvas exactly one window large takes the sampler's path (same step, same draws,
/// the one window's distribution as is), so it equals <c>ut sample</c>'s sample 0 for the seed. A canvas
/// may start with tokens in place (a resumed job, inpainting, outpainting): only masked positions are drawn.
/// </summary>
public sealed class CanvasCoordinator
{
    private readonly IWindowPool _pool;
    private readonly ITokenStep _step;
    private readonly MaskedPositions _unknown;
    private bool _finished;
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
    public bool Done => Step >= _step.Steps || _finished;
    /// <summary>Positions holding a token so far (a refining prior's canvas holds one everywhere from the start).</summary>
    public long Revealed => Options.Cells - (_step.Refines ? 0 : _unknown.Count);

    /// <summary>Windows asked for at each step (for tests and diagnostics), when recording.</summary>
    public List<(int step, int[] positions, int[] windows)>? Trace { get; set; }

    /// <param name="unknown">The positions being generated, for a canvas resumed after its first step with a refining
    /// (SUNDAE) prior, whose tokens no longer show them; otherwise they are the positions holding the mask id.</param>
    public CanvasCoordinator(IWindowPool pool, CanvasOptions options, long[]? tokens = null, int step = 0, bool[]? unknown = null)
    {
        if (options.WindowHeight * options.WindowWidth != pool.WindowLength)
            throw new ArgumentException($"window {options.WindowHeight}x{options.WindowWidth} holds {options.WindowHeight * options.WindowWidth} tokens but the prior's block size is " +
                $"{pool.WindowLength}");
        _pool = pool;
        Options = options;
        Tiling = new WindowTiling(options.Height, options.Width, options.WindowHeight, options.WindowWidth, options.StrideH, options.StrideW);
        if (options.Tiling == TilingKind.Shifted)
        {
            if (options.Order == RevealOrder.Raster) throw new ArgumentException("tiling shifted is for the parallel order; the raster order is the reference's stride-1 windows");
            Shifted = new ShiftedTiling(options.Height, options.Width, options.WindowHeight, options.WindowWidth, options.Seed);
        }
        if (options.Order == RevealOrder.Raster
            && pool.Corruption != Corruption.Absorbing) throw new ArgumentException("order raster reveals one token a step: it is for absorbing priors, not for a refining (sundae) one");
        _step = options.Order == RevealOrder.Raster
            ? new RevealStep(new RasterRevealSchedule(options.Cells), options.Sampling.Checked())
            : options.Schedule.Step(pool.Corruption, options.Sampling, options.Steps, options.Height, options.Width);
        Tokens = tokens ?? Enumerable.Repeat((long)pool.MaskId, options.Cells).ToArray();
        if (Tokens.Length != options.Cells) throw new ArgumentException("saved canvas does not match the canvas size");
        if (Tokens.Any(t => t < 0 || t > pool.MaskId)) throw new ArgumentException($"canvas holds a token id outside 0..{pool.MaskId - 1} (or the mask, {pool.MaskId})");
        if (unknown is not null && unknown.Length != options.Cells) throw new ArgumentException("the unknown positions do not match the canvas size");
        _unknown = _step.Refines && unknown is not null ? new MaskedPositions(unknown) : new MaskedPositions(Tokens, pool.MaskId);
        _finished = _unknown.Count == 0;
        if (step == 0) _step.Begin(Tokens, _unknown, pool.CodebookSize, options.Seed, 0);
        Step = step;
    }

    public int Steps => _step.Steps;

    /// <summary>What a canvas of <paramref name="cells"/> tokens holds for its whole run: the tokens (8 bytes each) and
    /// the mask (a flag and a list entry each); a step adds what its candidates need and two chunks of answers
    /// (<see cref="ChunkBytes"/>).</summary>
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

    /// <summary>How many bytes of window answers a step holds at once, per chunk of windows (two chunks are in
    /// flight: one being answered while the last is aggregated). Bounds a step's memory whatever the canvas's
    /// size; each chunk still spans hundreds of windows, enough to keep every replica's batches full.</summary>
    public long ChunkBytes { get; set; } = 16 << 20;

    /// <summary>Runs one step of the schedule.</summary>
    public async Task StepAsync(CancellationToken cancel = default)
    {
        using var activity = GridTelemetry.Source.StartActivity("canvas.step");
        activity?.SetTag("ut.step", Step);
        var candidates = new List<int>();
        _step.Candidates(Step, _unknown, Options.Seed, 0, candidates);
        var kept = 0;
        if (candidates.Count > 0)
        {
            var windows = WindowsServing(candidates, out var unanswered);
            Trace?.Add((Step, candidates.ToArray(), windows.Keys.ToArray()));
            activity?.SetTag("ut.reveal", candidates.Count);
            activity?.SetTag("ut.windows", windows.Count);

            // Windows go out in id order (row-major) in chunks; a candidate is drawn as soon as its last window
            // has answered and its answers dropped, so a step holds the answers of about two chunks, not all.
            var (wh, ww, W, K) = (Options.WindowHeight, Options.WindowWidth, Options.Width, _pool.CodebookSize);
            var opinions = new List<Opinion>?[candidates.Count];
            var drawn = new long[candidates.Count];
            var confidences = new double[candidates.Count];
            var chunks = Chunks(windows.Values, ChunkBytes / ((long)K * sizeof(float))).GetEnumerator();
            Task<IReadOnlyList<WindowResult>>? next = chunks.MoveNext() ? Send(chunks.Current, cancel) : null;
            while (next is not null)
            {
                var chunk = chunks.Current;
                var results = await next;
                next = chunks.MoveNext() ? Send(chunks.Current, cancel) : null;
                if (results.Count != chunk.Count) throw new InvalidOperationException($"the pool answered {results.Count} of {chunk.Count} windows");
                for (var c = 0; c < chunk.Count; c++)
                {
                    var (window, entries) = chunk[c];
                    var answer = results[c].Probabilities.AsMemory();
                    if (results[c].WindowId != window.Id || answer.Length != entries.Count * K * sizeof(float))
                        throw new InvalidOperationException($"window {window.Id}: the answer holds {answer.Length / sizeof(float)} probabilities for {entries.Count} positions");
                    Distributions += entries.Count;
                    for (var e = 0; e < entries.Count; e++)
                    {
                        var i = entries[e].Candidate;
                        var p = candidates[i];
                        (opinions[i] ??= new List<Opinion>(1)).Add(new Opinion(answer.Slice(e * K * sizeof(float), K * sizeof(float)), p / W - window.Top, p % W - window.Left));
                        if (--unanswered[i] > 0) continue;
                        // One opinion is used as is: a one-window canvas is exactly the plain sampler.
                        var row = opinions[i]!.Count == 1 ? opinions[i]![0].Probabilities : Aggregation.Combine(opinions[i]!, Options.Aggregate, wh, ww);
                        drawn[i] = _step.Draw(Step, p, row, Options.Seed, 0, out confidences[i]);
                        opinions[i] = null;
                    }
                }
                WindowPasses += chunk.Count;
            }
            kept = _step.Keep(Step, candidates, drawn, confidences, Options.Seed, 0, Tokens, _unknown);
            GridTelemetry.TokensRevealed.Add(kept);
        }
        _finished = _step.Finished(Step, _unknown, kept);
        Step++;
    }

    /// <summary>The windows serving the candidate positions, by id, each with those positions (the candidate's
    /// index and its place in the window); <paramref name="unanswered"/> counts each candidate's windows.</summary>
    private SortedDictionary<int, WindowAsk> WindowsServing(List<int> candidates, out int[] unanswered)
    {
        var (ww, W) = (Options.WindowWidth, Options.Width);
        var windows = new SortedDictionary<int, WindowAsk>();
        unanswered = new int[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            var p = candidates[i];
            foreach (var w in Covering(p / W, p % W))
            {
                if (!windows.TryGetValue(w.Id, out var at)) windows[w.Id] = at = new WindowAsk(w, []);
                at.Entries.Add((i, (p / W - w.Top) * ww + (p % W - w.Left)));
                unanswered[i]++;
            }
        }
        return windows;
    }

    /// <summary>Consecutive runs of windows asking for about <paramref name="distributions"/> positions each.</summary>
    private static IEnumerable<List<WindowAsk>> Chunks(
        IEnumerable<WindowAsk> windows, long distributions)
    {
        var chunk = new List<WindowAsk>();
        long size = 0;
        foreach (var w in windows)
        {
            chunk.Add(w);
            size += w.Entries.Count;
            if (size < distributions) continue;
            yield return chunk;
            (chunk, size) = (new(), 0);
        }
        if (chunk.Count > 0) yield return chunk;
    }

    private Task<IReadOnlyList<WindowResult>> Send(List<WindowAsk> chunk, CancellationToken cancel) =>
        _pool.EvaluateAsync(chunk.Select(w => new WindowRequest(_nextRequest++, w.Window.Id, Crop(w.Window), w.Entries.Select(e => e.Local).ToArray())).ToList(), cancel);

    private IEnumerable<Window> Covering(int row, int col) =>
        Shifted is null ? Tiling.Covering(row, col) : [Shifted.Owner(Step, row, col)];

    /// <summary>A window a step asks, with the candidates it serves: their index among the step's candidates and
    /// their place in the window.</summary>
    private sealed record WindowAsk(Window Window, List<(int Candidate, int Local)> Entries);

    private long[] Crop(Window w)
    {
        var (wh, ww, W) = (Options.WindowHeight, Options.WindowWidth, Options.Width);
        var crop = new long[wh * ww];
        for (var r = 0; r < wh; r++) Array.Copy(Tokens, (w.Top + r) * W + w.Left, crop, r * ww, ww);
        return crop;
    }
}
