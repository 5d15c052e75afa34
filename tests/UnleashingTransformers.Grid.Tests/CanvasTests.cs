using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>Tiny random priors (4x4 windows, codebook 12) as pool replicas.</summary>
internal sealed class TinyPriors : IDisposable
{
    private readonly List<AbsorbingDiffusion> _models = new();
    private readonly List<TransformerInference> _inference = new();

    public TinyPriors(int replicas)
    {
        for (var i = 0; i < replicas; i++)
        {
            manual_seed(21); // identical weights in every replica
            var m = new AbsorbingDiffusion(new TransformerConfig(12, 32, 4, 2, 16), 16);
            using (no_grad()) m.TransformerBackbone.pos_emb.normal_(0, 0.5);
            m.eval();
            _models.Add(m);
            _inference.Add(new TransformerInference(m.TransformerBackbone));
        }
    }

    public List<ITokenDenoiser> Denoisers => _inference.Select(i => (ITokenDenoiser)new TransformerDenoiser(i, Device.CPU)).ToList();

    public void Dispose()
    {
        foreach (var i in _inference) i.Dispose();
        foreach (var m in _models) m.Dispose();
    }
}

public class TilingAndAggregationTests
{
    [Fact]
    public void TilingCoversEveryCellAndSnapsTheLastWindowsToTheEdges()
    {
        var t = new WindowTiling(10, 13, 4, 4, 3, 3);
        Assert.Equal(new[] { 0, 3, 6 }, t.Tops);              // 6 + 4 = 10: already at the edge
        Assert.Equal(new[] { 0, 3, 6, 9 }, t.Lefts);          // 9 + 4 = 13
        var u = new WindowTiling(11, 14, 4, 4, 3, 3);
        Assert.Equal(new[] { 0, 3, 6, 7 }, u.Tops);           // snapped: 7 + 4 = 11
        Assert.Equal(new[] { 0, 3, 6, 9, 10 }, u.Lefts);
        foreach (var tiling in new[] { t, u, new WindowTiling(16, 16, 16, 16, 8, 8), new WindowTiling(9, 9, 4, 4, 1, 1) })
            for (var r = 0; r < tiling.Height; r++)
                for (var c = 0; c < tiling.Width; c++)
                {
                    var covering = tiling.Covering(r, c).ToList();
                    Assert.NotEmpty(covering);
                    Assert.All(covering, w => Assert.True(w.Top <= r && r < w.Top + tiling.WindowHeight && w.Left <= c && c < w.Left + tiling.WindowWidth));
                    Assert.Equal(tiling.Windows.Count(w => w.Top <= r && r < w.Top + tiling.WindowHeight && w.Left <= c && c < w.Left + tiling.WindowWidth), covering.Count);
                }
        Assert.Equal(6 * 6, new WindowTiling(9, 9, 4, 4, 1, 1).Windows.Count);   // stride 1: every window
        Assert.Throws<ArgumentException>(() => new WindowTiling(3, 9, 4, 4, 2, 2));
    }

    [Fact]
    public void AggregationsAgainstHandComputations()
    {
        var a = new float[] { 0.5f, 0.5f, 0f };
        var b = new float[] { 0.1f, 0.6f, 0.3f };
        var ops = new List<Opinion> { new(Bytes(a), 0, 0), new(Bytes(b), 1, 1) };
        Assert.Equal(new[] { 0.3f, 0.55f, 0.15f }, Aggregation.Combine(ops, AggregationKind.Mean, 4, 4).Select(v => MathF.Round(v, 6)));

        // Gaussian: weights exp(-½((r-1.5)² + (c-1.5)²)/(4/4)²) for a 4x4 window.
        var wa = Math.Exp(-0.5 * (1.5 * 1.5 + 1.5 * 1.5));
        var wb = Math.Exp(-0.5 * (0.5 * 0.5 + 0.5 * 0.5));
        var g = Aggregation.Combine(ops, AggregationKind.Gaussian, 4, 4);
        for (var i = 0; i < 3; i++) Assert.Equal((wa * a[i] + wb * b[i]) / (wa + wb), g[i], 5);

        // Product of experts: normalised geometric mean; a zero from any expert (nearly) vetoes.
        var p = Aggregation.Combine(ops, AggregationKind.ProductOfExperts, 4, 4);
        var geo = new[] { Math.Sqrt(0.05), Math.Sqrt(0.3), 0 };
        for (var i = 0; i < 3; i++) Assert.Equal(geo[i] / geo.Sum(), p[i], 4);
        Assert.Throws<ArgumentException>(() => Aggregation.Parse("median"));
    }

    private static byte[] Bytes(float[] probabilities) => MemoryMarshal.AsBytes(probabilities.AsSpan()).ToArray();
}

public class CanvasTests
{
    private static CanvasOptions Options(int h, int w, int stride = 2, int steps = 12, RevealOrder order = RevealOrder.Parallel, ulong seed = 3,
        AggregationKind agg = AggregationKind.Mean) => new(h, w, 4, 4, stride, stride, steps, TokenSampling.Plain(0.9), seed, agg, order, ScheduleChoice.Reciprocal, TilingKind.Overlap);

    private static async Task<(long[] tokens, CanvasCoordinator canvas, InProcessWindowPool pool)> Run(TinyPriors priors, CanvasOptions o, int replicas = 1, int batch = 8,
        long chunkBytes = 16 << 20)
    {
        var pool = new InProcessWindowPool(priors.Denoisers.Take(replicas).ToList(), batch);
        var canvas = new CanvasCoordinator(pool, o) { Trace = new(), ChunkBytes = chunkBytes };
        var tokens = await canvas.RunAsync();
        await pool.DisposeAsync();
        return (tokens, canvas, pool);
    }

    [Fact]
    public async Task EveryPositionIsRevealedExactlyOnceAndOnlyWantedDistributionsCrossThePool()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(1);
        var o = Options(9, 11);
        var (tokens, canvas, pool) = await Run(priors, o);
        Assert.All(tokens, t => Assert.InRange(t, 0, 11));
        var revealed = canvas.Trace!.SelectMany(s => s.positions).ToList();
        Assert.Equal(Enumerable.Range(0, 99), revealed.Order());      // each cell once
        // Distributions that crossed the pool: one per (revealed position, window covering it), no more.
        long expected = canvas.Trace!.Sum(s => s.positions.Sum(p => (long)canvas.Tiling.Covering(p / 11, p % 11).Count()));
        Assert.Equal(expected, canvas.Distributions);
        Assert.Equal(expected, pool.Counts.positions);
        // Only windows covering a revealed position were run.
        foreach (var (_, positions, windows) in canvas.Trace!)
        {
            var needed = positions.SelectMany(p => canvas.Tiling.Covering(p / 11, p % 11)).Select(w => w.Id).Distinct().Order();
            Assert.Equal(needed, windows);
        }
        Assert.Equal(canvas.WindowPasses, pool.Counts.requests);
    }

    [Fact]
    public async Task OutputDoesNotDependOnReplicasOrBatching()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(3);
        var o = Options(10, 13, stride: 2, steps: 10, agg: AggregationKind.Gaussian);
        var reference = (await Run(priors, o, replicas: 1, batch: 8)).tokens;
        foreach (var (replicas, batch) in new[] { (2, 8), (3, 8), (1, 1), (3, 3), (2, 64) })
            Assert.Equal(reference, (await Run(priors, o, replicas, batch)).tokens);
        // A step's windows go out in chunks (two in flight); a chunk of one window, or of a few, changes nothing,
        // not even the passes: each window a step needs is asked once whatever the chunks.
        var whole = await Run(priors, o, replicas: 2);
        foreach (var chunkBytes in new long[] { 1, 3 * 12 * sizeof(float) })
        {
            var chunked = await Run(priors, o, replicas: 2, chunkBytes: chunkBytes);
            Assert.Equal(reference, chunked.tokens);
            Assert.Equal(whole.canvas.WindowPasses, chunked.canvas.WindowPasses);
            Assert.Equal(whole.pool.Counts.positions, chunked.pool.Counts.positions);
        }
        Assert.NotEqual(reference, (await Run(priors, o with { Seed = 4 })).tokens);
    }

    [Fact]
    public async Task AOneWindowCanvasIsThePlainSampler()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(1);
        var o = Options(4, 4, stride: 4, steps: 8, seed: 77);
        var canvas = (await Run(priors, o)).tokens;
        var sampler = new TokenSampler(priors.Denoisers[0], new ReciprocalRevealSchedule(8), 0.9);
        Assert.Equal(sampler.Sample(1, 77)[0], canvas);
    }

    private static readonly TokenSampling Ramped = new(1.0, 0.6, 6, 0.95);

    [Theory]
    [InlineData("confidence")]
    [InlineData("halton")]
    [InlineData("reciprocal")]
    [InlineData("tau-leaping")]
    public async Task EverySchedulesOneWindowCanvasIsThePlainSamplerAndItsCanvasesDoNotDependOnReplicas(string name)
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(3);
        var choice = ScheduleChoice.Parse(name, "cosine", 4.5);
        var one = Options(4, 4, stride: 4, steps: 6, seed: 77) with { Sampling = Ramped, Schedule = choice };
        var sampler = new TokenSampler(priors.Denoisers[0], new RevealStep(choice.Create(6, 4, 4), Ramped));
        Assert.Equal(sampler.Sample(1, 77)[0], (await Run(priors, one)).tokens);

        // On a canvas the confidence comes from the aggregated distributions; the choice is keyed by position.
        var o = Options(10, 13, stride: 2, steps: 8, agg: AggregationKind.Gaussian) with { Sampling = Ramped, Schedule = choice };
        var (reference, canvas, _) = await Run(priors, o);
        Assert.All(reference, t => Assert.InRange(t, 0, 11));
        foreach (var (replicas, batch) in new[] { (3, 2), (2, 64), (1, 1) })
            Assert.Equal(reference, (await Run(priors, o, replicas, batch)).tokens);
        Assert.True(canvas.Step <= choice.Create(8, 10, 13).Steps);
    }

    [Fact]
    public async Task ACanvasStartedWithTokensKeepsThemAndFillsTheRest()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(1);
        var (H, W) = (8, 12);
        var start = Enumerable.Repeat(12L, H * W).ToArray();                // the mask id of the tiny prior
        for (var i = 0; i < start.Length; i += 3) start[i] = i % 12;          // a third of the cells known
        foreach (var choice in new[] { "reciprocal", "confidence", "halton" })
        {
            var o = Options(H, W, steps: 10) with { Schedule = ScheduleChoice.Parse(choice, "linear", 1) };
            var pool = new InProcessWindowPool(priors.Denoisers, 8);
            var canvas = new CanvasCoordinator(pool, o, start.ToArray()) { Trace = new() };
            var tokens = await canvas.RunAsync();
            await pool.DisposeAsync();
            for (var i = 0; i < start.Length; i++)
                if (i % 3 == 0) Assert.Equal(start[i], tokens[i]);
                else Assert.InRange(tokens[i], 0, 11);
            // Known cells are never candidates: no distribution is asked for them.
            Assert.DoesNotContain(canvas.Trace!.SelectMany(t => t.positions), p => p % 3 == 0);
        }
        var pool2 = new InProcessWindowPool(priors.Denoisers, 8);
        Assert.Throws<ArgumentException>(() => new CanvasCoordinator(pool2, Options(H, W), Enumerable.Repeat(13L, H * W).ToArray()));
        await pool2.DisposeAsync();
    }

    [Fact]
    public void ShiftedTilingGivesEveryPositionExactlyOneWindowPerStepAndMovesTheSeams()
    {
        foreach (var (h, w) in new[] { (10, 13), (4, 4), (4, 9), (17, 8) })
        {
            var tiling = new ShiftedTiling(h, w, 4, 4, seed: 5);
            var shifts = new HashSet<(int, int)>();
            for (var step = 0; step < 24; step++)
            {
                shifts.Add(tiling.Shift(step));
                var owned = new Dictionary<int, List<int>>();
                for (var r = 0; r < h; r++)
                    for (var c = 0; c < w; c++)
                    {
                        var win = tiling.Owner(step, r, c);
                        Assert.True(win.Top >= 0 && win.Left >= 0 && win.Top + 4 <= h && win.Left + 4 <= w);   // a whole window inside the canvas
                        Assert.True(win.Top <= r && r < win.Top + 4 && win.Left <= c && c < win.Left + 4);       // holding the cell
                        Assert.Equal(win.Top * w + win.Left, win.Id);
                        (owned.TryGetValue(win.Id, out var cells) ? cells : owned[win.Id] = new()).Add(r * w + c);
                    }
                // A window serves at most its 4x4 block; the step's windows are the bands the shifted grid cuts.
                Assert.All(owned.Values, cells => Assert.InRange(cells.Count, 1, 16));
                Assert.True(owned.Count <= ((h + 3) / 4 + 1) * ((w + 3) / 4 + 1));
                Assert.True(owned.Count >= (h + 3) / 4 * ((w + 3) / 4));
            }
            if (h > 4 || w > 4) Assert.True(shifts.Count > 4, "the grid moves from step to step");
            Assert.Equal(tiling.Shift(3), new ShiftedTiling(h, w, 4, 4, seed: 5).Shift(3));       // keyed by (seed, step)
        }
    }

    [Fact]
    public async Task AShiftedCanvasAsksOneDistributionPerRevealedPositionAndDoesNotDependOnReplicas()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(3);
        var o = Options(10, 13, steps: 8) with { Tiling = TilingKind.Shifted };
        var (reference, canvas, pool) = await Run(priors, o);
        Assert.Equal(Enumerable.Range(0, 130), canvas.Trace!.SelectMany(t => t.positions).Order());
        Assert.Equal(130, canvas.Distributions);                                        // one window per position
        Assert.Equal(130, pool.Counts.positions);
        var overlap = (await Run(priors, o with { Tiling = TilingKind.Overlap })).canvas;
        Assert.True(overlap.Distributions > 2 * canvas.Distributions, $"overlap asks {overlap.Distributions}");
        foreach (var (replicas, batch) in new[] { (3, 2), (2, 64) })
            Assert.Equal(reference, (await Run(priors, o, replicas, batch)).tokens);
        // A one-window canvas is still the plain sampler.
        var one = Options(4, 4, stride: 4, steps: 8, seed: 77) with { Tiling = TilingKind.Shifted };
        Assert.Equal(new TokenSampler(priors.Denoisers[0], new ReciprocalRevealSchedule(8), 0.9).Sample(1, 77)[0], (await Run(priors, one)).tokens);
        var pool2 = new InProcessWindowPool(priors.Denoisers, 8);
        Assert.Throws<ArgumentException>(() => new CanvasCoordinator(pool2, o with { Order = RevealOrder.Raster }));
        await pool2.DisposeAsync();
    }

    [Fact]
    public async Task RasterModeFollowsTheReferenceOrderAndWindowSet()
    {
        using var scope = NewDisposeScope();
        using var priors = new TinyPriors(1);
        var (H, W) = (6, 7);
        var (_, canvas, _) = await Run(priors, Options(H, W, stride: 1, order: RevealOrder.Raster));
        Assert.Equal(H * W, canvas.Trace!.Count);
        for (var k = 0; k < H * W; k++)
        {
            var (step, positions, windows) = canvas.Trace[k];
            Assert.Equal(k, step);
            Assert.Equal(new[] { k }, positions);        // one token a step, row-major
            var (r, c) = (k / W, k % W);
            // The reference's windows: every 4x4 window at stride 1 (tops 0..H-4, lefts 0..W-4);
            // the ones covering the cell are those its aggregation averages for it.
            var want = (from i in Enumerable.Range(0, H - 3)
                        from j in Enumerable.Range(0, W - 3)
                        where i <= r && r < i + 4 && j <= c && c < j + 4
                        select i * (W - 3) + j).ToArray();
            Assert.Equal(want, windows);
        }
    }
}

public class CanvasDecoderTests
{
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "vqgan_tiny.th");

    [Fact]
    public void TiledDecodeIsCloseToTheWholeDecodeAndSeamless()
    {
        using var scope = NewDisposeScope();
        using var ae = VqGanCheckpoint.Load(Fixture);
        var rng = new Random(4);
        var tokens = Enumerable.Range(0, 8 * 12).Select(_ => (long)rng.Next(16)).ToArray();
        var other = Enumerable.Range(0, 8 * 12).Select(_ => (long)rng.Next(16)).ToArray();
        var whole = CanvasDecoder.Decode(ae, tokens, 8, 12);
        Assert.Equal(new long[] { 3, 32, 48 }, whole.shape);
        var tiled = CanvasDecoder.Decode(ae, tokens, 8, 12, tile: 8, overlap: 4);
        Assert.Equal(whole.shape, tiled.shape);
        var diff = (tiled - whole).abs().mean().item<double>();
        var unrelated = (CanvasDecoder.Decode(ae, other, 8, 12) - whole).abs().mean().item<double>();
        Assert.True(diff < 0.25 * unrelated, $"tiled vs whole {diff:F4}, unrelated images {unrelated:F4}");

        // A smooth pattern (one code everywhere): no step at the tile borders beyond the image's own variation.
        var flat = Enumerable.Repeat(5L, 8 * 16).ToArray();
        var img = CanvasDecoder.Decode(ae, flat, 8, 16, tile: 8, overlap: 4);
        var colSteps = (img.narrow(2, 1, 63) - img.narrow(2, 0, 63)).abs().mean(new long[] { 0, 1 });
        var interior = colSteps.narrow(0, 20, 20).max().item<float>();
        var overall = colSteps.max().item<float>();
        var wholeFlat = CanvasDecoder.Decode(ae, flat, 8, 16);
        var wholeSteps = (wholeFlat.narrow(2, 1, 63) - wholeFlat.narrow(2, 0, 63)).abs().mean(new long[] { 0, 1 }).max().item<float>();
        Assert.True(overall <= 1.5 * wholeSteps + 1e-3, $"largest column step {overall:F4} (whole decode {wholeSteps:F4}, interior {interior:F4})");
    }

    [Fact]
    public void DecodingStraightToAFileStripByStripGivesTheTiledDecodesPixelsBitForBit()
    {
        using var scope = NewDisposeScope();
        using var ae = VqGanCheckpoint.Load(Fixture);
        var dir = Directory.CreateTempSubdirectory("ut-decode-").FullName;
        try
        {
            var rng = new Random(9);
            // 19x29 tokens in 8-token tiles overlapping by 3: edge-snapped last rows and columns of tiles too.
            var tokens = Enumerable.Range(0, 19 * 29).Select(_ => (long)rng.Next(16)).ToArray();
            Imaging.Images.Save(CanvasDecoder.Decode(ae, tokens, 19, 29, tile: 8, overlap: 3), Path.Combine(dir, "memory.png"));
            CanvasDecoder.DecodeToFile(ae, tokens, 19, 29, Path.Combine(dir, "streamed.png"), tile: 8, overlap: 3, parameters: "{}");
            var (memory, streamed) = (Imaging.Images.LoadRgb(Path.Combine(dir, "memory.png")), Imaging.Images.LoadRgb(Path.Combine(dir, "streamed.png")));
            Assert.Equal(new long[] { 3, 19 * 4, 29 * 4 }, streamed.shape);
            Assert.True(memory.equal(streamed), "the same pixels");
            Assert.Equal("{}", ImageCodec.Text(Path.Combine(dir, "streamed.png"), "parameters"));
            Assert.Equal(new[] { "memory.png", "streamed.png" }, Directory.GetFiles(dir).Select(Path.GetFileName).Order());   // no raw file left
            // The strip is a tile high: its memory does not grow with the canvas's height.
            Assert.Equal(CanvasDecoder.PeakBytes(100, 29, 4, 8), CanvasDecoder.PeakBytes(10_000, 29, 4, 8));
            Assert.True(CanvasDecoder.PeakBytes(1024, 1024, 8) < 100L << 20, "a 1024x1024-token canvas of 8-px tokens decodes in strips of under 100 MB");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>SUNDAE priors on the canvas: tiny random hourglasses (8x8 windows, k = 4, codebook 12) as replicas.</summary>
public class SundaeCanvasTests
{
    private static (List<ITokenDenoiser> denoisers, List<IDisposable> owned) Replicas(int n)
    {
        var (denoisers, owned) = (new List<ITokenDenoiser>(), new List<IDisposable>());
        for (var i = 0; i < n; i++)
        {
            manual_seed(8);   // the same weights in every replica
            var net = new Models.Backbones.Hourglass(new Models.Backbones.HourglassConfig(new TransformerConfig(12, 32, 2, 4, 64), 8, 8, 1, 2, 1, 4, 16));
            net.eval();
            owned.Add(net);
            denoisers.Add(net.Denoiser(InferencePrecision.Float32, Device.CPU).denoiser);
        }
        return (denoisers, owned);
    }

    private static CanvasOptions Options(int h, int w, int steps = 12, ulong seed = 3) =>
        new(h, w, 8, 8, 4, 4, steps, TokenSampling.Plain(0.9), seed, AggregationKind.Mean, RevealOrder.Parallel,
            ScheduleChoice.Reciprocal with { Refine = new RefineSchedule(0.5, 0.2, 4) }, TilingKind.Overlap);

    private static async Task<CanvasCoordinator> Run(List<ITokenDenoiser> replicas, CanvasOptions o, int batch = 8, long[]? tokens = null, int stopAt = int.MaxValue)
    {
        await using var pool = new InProcessWindowPool(replicas, batch);
        var canvas = new CanvasCoordinator(pool, o, tokens);
        while (!canvas.Done && canvas.Step < stopAt) await canvas.StepAsync();
        return canvas;
    }

    [Fact]
    public async Task AOneWindowCanvasIsTheSundaeSamplerAndCanvasesDoNotDependOnReplicasOrBatching()
    {
        using var scope = NewDisposeScope();
        var (replicas, owned) = Replicas(3);
        try
        {
            Assert.Equal(Corruption.Uniform, replicas[0].Corruption);
            var one = Options(8, 8, seed: 77);
            var step = one.Schedule.Step(Corruption.Uniform, one.Sampling, 12, 8, 8);
            Assert.Equal(new TokenSampler(replicas[0], step).Sample(1, 77)[0], (await Run(replicas.Take(1).ToList(), one)).Tokens);

            var o = Options(12, 20);
            var reference = await Run(replicas.Take(1).ToList(), o);
            Assert.All(reference.Tokens, t => Assert.InRange(t, 0, 11));   // no mask left anywhere: every cell holds a token
            Assert.Equal(o.Cells, reference.Revealed);
            foreach (var (n, batch) in new[] { (3, 2), (2, 64), (1, 1) })
                Assert.Equal(reference.Tokens, (await Run(replicas.Take(n).ToList(), o, batch)).Tokens);
            Assert.NotEqual(reference.Tokens, (await Run(replicas.Take(1).ToList(), o with { Seed = 4 })).Tokens);
            // Every step redraws a share of all cells across the windows: far more distributions than cells.
            Assert.True(reference.Distributions > 2 * o.Cells, $"{reference.Distributions} distributions for {o.Cells} cells");
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
    }

    [Fact]
    public async Task AResumedSundaeCanvasIsTheStraightOneAndInpaintingKeepsTheKnownCells()
    {
        using var scope = NewDisposeScope();
        var (replicas, owned) = Replicas(1);
        try
        {
            var o = Options(12, 16);
            var straight = await Run(replicas, o);
            // Stopped after 5 steps: its tokens show no mask any more, so the job says which cells it generates.
            var stopped = await Run(replicas, o, stopAt: 5);
            await using var pool = new InProcessWindowPool(replicas, 8);
            var resumed = new CanvasCoordinator(pool, o, stopped.Tokens.ToArray(), stopped.Step, Enumerable.Repeat(true, o.Cells).ToArray());
            await resumed.RunAsync();
            Assert.Equal(straight.Tokens, resumed.Tokens);
            Assert.Equal(straight.Step, resumed.Step);

            // Known cells (a region left masked is generated, started from random tokens) stay as given.
            var given = straight.Tokens.ToArray();
            for (var c = 0; c < o.Cells; c++) if (c / 16 is >= 4 and < 8) given[c] = pool.MaskId;
            var inpainted = await Run(replicas, o with { Seed = 9 }, tokens: given.ToArray());
            for (var c = 0; c < o.Cells; c++)
                if (c / 16 is >= 4 and < 8) Assert.InRange(inpainted.Tokens[c], 0, 11);
                else Assert.Equal(given[c], inpainted.Tokens[c]);
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
    }
}
