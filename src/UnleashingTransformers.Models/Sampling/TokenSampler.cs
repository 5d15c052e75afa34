using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Models.Sampling;

/// <summary>Where a sampling run is, reported after every step. Revealed counts tokens written (a refining step's:
/// tokens changed); Finished the sequences done before the last step (self-stopped).</summary>
public readonly record struct SamplingProgress(int Step, int Steps, long Revealed, long Total, long NetworkRows, long NetworkPasses, int Finished = 0);

/// <summary>
/// The reference's sampler (AbsorbingDiffusion.sample, or SUNDAE's sample_fn) with any step: start from all-unknown
/// (the mask; a refining step draws random tokens); each step is one <see cref="ITokenStep"/> (it picks candidates,
/// the denoiser gives their distributions, tokens are drawn and the step keeps some). A sequence leaves the batch once
/// its step says it is finished (all revealed; SUNDAE: a step that changed nothing after the minimum), and the run
/// ends when all have.
///
/// Equal in distribution to the reference, with less work: the denoiser is asked only for the candidate
/// positions (the reference samples every position and keeps a few), and only sequences with candidates
/// this step are run (a step where none has any costs no network pass; the reference runs the network
/// anyway, 37% of its 256 steps reveal nothing). Randomness is keyed by (seed, sample index, step,
/// position), so sample i is the same whatever the batch size or count.
/// </summary>
public sealed class TokenSampler(ITokenDenoiser denoiser, ITokenStep step)
{
    /// <summary>The paper's draw (fixed temperature, no filter) with the given schedule.</summary>
    public TokenSampler(ITokenDenoiser denoiser, IRevealSchedule schedule, double temperature)
        : this(denoiser, new RevealStep(schedule, TokenSampling.Plain(temperature))) { }

    public long[][] Sample(int count, ulong seed, int firstIndex = 0, int batchSize = 8, Action<SamplingProgress>? progress = null,
        CancellationToken cancel = default)
    {
        if (count < 0 || batchSize < 1) throw new ArgumentException("count must be >= 0 and batch >= 1");
        var results = new long[count][];
        for (var start = 0; start < count; start += batchSize)
        {
            var n = Math.Min(batchSize, count - start);
            var batch = SampleBatch(n, seed, firstIndex + start, progress, cancel);
            Array.Copy(batch, 0, results, start, n);
        }
        return results;
    }

    private long[][] SampleBatch(int n, ulong seed, int firstStream, Action<SamplingProgress>? progress, CancellationToken cancel)
    {
        var L = denoiser.Length;
        var K = denoiser.CodebookSize;
        var tokens = new long[n][];
        var unknown = new MaskedPositions[n];
        var finished = new bool[n];
        for (var i = 0; i < n; i++)
        {
            tokens[i] = Enumerable.Repeat((long)denoiser.MaskId, L).ToArray();
            unknown[i] = new MaskedPositions(L);
            step.Begin(tokens[i], unknown[i], K, seed, (ulong)(firstStream + i));
        }
        var candidates = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        long revealed = 0, rowsRun = 0, passes = 0;
        for (var k = 0; k < step.Steps && finished.Contains(false); k++)
        {
            cancel.ThrowIfCancellationRequested();
            // Which sequences have candidates this step, and where.
            var active = new List<int>();
            for (var i = 0; i < n; i++)
            {
                candidates[i].Clear();
                if (finished[i]) continue;
                step.Candidates(k, unknown[i], seed, (ulong)(firstStream + i), candidates[i]);
                if (candidates[i].Count > 0) active.Add(i);
            }
            var kept = new int[n];
            if (active.Count > 0)
            {
                var input = new long[active.Count * L];
                var wanted = new List<WantedPosition>();
                for (var r = 0; r < active.Count; r++)
                {
                    tokens[active[r]].CopyTo(input, r * L);
                    foreach (var pos in candidates[active[r]]) wanted.Add(new WantedPosition(r, pos));
                }
                var probs = denoiser.Probabilities(input, active.Count, wanted);
                rowsRun += active.Count;
                passes++;
                var first = 0;
                foreach (var i in active)
                {
                    var stream = (ulong)(firstStream + i);
                    var drawn = new long[candidates[i].Count];
                    var confidences = new double[drawn.Length];
                    for (var c = 0; c < drawn.Length; c++)
                        drawn[c] = step.Draw(k, candidates[i][c], probs.AsSpan((first + c) * K, K), seed, stream, out confidences[c]);
                    revealed += kept[i] = step.Keep(k, candidates[i], drawn, confidences, seed, stream, tokens[i], unknown[i]);
                    first += drawn.Length;
                }
            }
            for (var i = 0; i < n; i++)
                if (!finished[i]) finished[i] = step.Finished(k, unknown[i], kept[i]);
            progress?.Invoke(new SamplingProgress(k + 1, step.Steps, revealed, (long)n * L, rowsRun, passes, finished.Count(f => f)));
        }
        if (!step.Refines)
            for (var i = 0; i < n; i++)
                if (unknown[i].Count > 0) throw new InvalidOperationException($"schedule left {unknown[i].Count} positions masked");
        return tokens;
    }
}

/// <summary>
/// The reference's <c>sample_mlm</c>: over the time grid linspace(1, T, S) in reverse, re-mask the
/// current sequence with probability t/T (q_sample), predict every masked position, and write the
/// draws there: still-empty positions fill and re-masked ones are resampled.
/// </summary>
public sealed class MlmSampler(ITokenDenoiser denoiser, int steps, int timesteps, double temperature)
{
    public long[][] Sample(int count, ulong seed, int firstIndex = 0, Action<SamplingProgress>? progress = null)
    {
        if (steps < 1) throw new SettingException(SettingNames.Steps, "must be >= 1");
        var L = denoiser.Length;
        var K = denoiser.CodebookSize;
        var grid = Enumerable.Range(0, steps)
            .Select(k => steps == 1 ? timesteps : (long)(1 + (timesteps - 1) * (double)k / (steps - 1)))
            .Reverse().ToArray();
        var x0 = Enumerable.Range(0, count).Select(_ => Enumerable.Repeat((long)denoiser.MaskId, L).ToArray()).ToArray();
        for (var s = 0; s < grid.Length; s++)
        {
            var t = grid[s];
            var input = new long[count * L];
            var wanted = new List<WantedPosition>();
            for (var i = 0; i < count; i++)
            {
                var stream = (ulong)(firstIndex + i);
                for (var pos = 0; pos < L; pos++)
                {
                    var remask = CounterRng.Uniform(seed, stream, s, pos, CounterRng.Purpose.Remask) < (double)t / timesteps;
                    var tok = remask ? denoiser.MaskId : x0[i][pos];
                    input[i * L + pos] = tok;
                    if (tok == denoiser.MaskId) wanted.Add(new WantedPosition(i, pos));
                }
            }
            var probs = denoiser.Probabilities(input, count, wanted);
            for (var w = 0; w < wanted.Count; w++)
            {
                var (i, pos) = (wanted[w].Row, wanted[w].Position);
                var u = CounterRng.Uniform(seed, (ulong)(firstIndex + i), s, pos, CounterRng.Purpose.Token);
                x0[i][pos] = Categorical.Sample(probs.AsSpan(w * K, K), temperature, u);
            }
            progress?.Invoke(new SamplingProgress(s + 1, grid.Length, x0.Sum(r => r.Count(v => v != denoiser.MaskId)), (long)count * L, count * (s + 1L), s + 1L));
        }
        return x0;
    }
}
