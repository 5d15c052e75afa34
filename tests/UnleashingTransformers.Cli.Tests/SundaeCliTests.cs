using System.Text.Json;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

public class SundaeCliTests : TempDirTest
{
    private const int Side = 8;

    /// <summary>2x2 tiles of codes 3..6 over the 8x8 grid. The hourglass has no absolute positions (rotary only, as the
    /// reference's); a cell's place in its merged 2x2 block is what it can tell apart, so that is the pattern's period.</summary>
    private static long Code(int cell, int width = Side) => 3 + 2 * (cell / width % 2) + cell % width % 2;

    private static readonly long[] Pattern = Enumerable.Range(0, Side * Side).Select(c => Code(c)).ToArray();

    private string Latents(int rows = 64)
    {
        using var scope = NewDisposeScope();
        save(from_array<long>(Pattern, 1, Pattern.Length).repeat(rows, 1), P("latents.pt"));
        return P("latents.pt");
    }

    private string[] Train(string outDir, int steps, params string[] more) =>
    [
        "train-prior", "--model", "sundae", "--latents", Latents(), "--grid", "8x8", "--codebook-size", "256", "--emb", "32", "--heads", "2",
        "--layers", "1-2-1", "--steps", $"{steps}", "--out", outDir, "--batch", "16", "--lr", "3e-3", "--warmup", "20", .. more,
    ];

    private static long[] Tokens(string path) =>
        JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("tokens").EnumerateArray().Select(v => v.GetInt64()).ToArray();

    [Fact]
    public void ATinySundaePriorTrainedByTheCliSamplesItsPatternStopsItselfAndServesTheCanvas()
    {
        Ut.Ok(Train(P("run"), 200, "--checkpoint-every", "200"));
        var prior = P("run/sundae_200.th");
        Assert.True(File.Exists(P("run/sundae_ema_200.th")));
        var said = Ut.Ok("sample", "--prior", prior, "--heads", "2", "--count", "8", "--steps", "40", "--seed", "5", "--out", P("samples"));
        long match = 0;
        for (var i = 0; i < 8; i++) match += Tokens(P($"samples/sample_{i:000}.json")).Zip(Pattern).Count(p => p.First == p.Second);
        Assert.True(match >= 0.95 * 8 * 64, $"{match} of {8 * 64} tokens follow the pattern");
        // Self-stopping: every sample froze once a step changed nothing, long before the 40 steps.
        var stopped = said.Split('\n').Single(l => l.Contains("stopped themselves"));
        Assert.StartsWith("sample: 8 of 8 stopped themselves", stopped);
        var ran = int.Parse(stopped.Split(" ran ")[1].Split(' ')[0]);
        Assert.InRange(ran, 11, 25);   // not before --min-steps (10, 0-based: the 11th step)
        // Same seed, same samples; --min-steps 40 runs every step and still follows the pattern.
        said = Ut.Ok("sample", "--prior", prior, "--count", "2", "--steps", "40", "--seed", "5", "--out", P("again"), "--min-steps", "40", "--temp", "1.0:0.7", "--proportion", "0.8:0.3");
        Assert.Contains("0 of 2 stopped themselves", said);
        Assert.True(Tokens(P("again/sample_001.json")).Zip(Pattern).Count(p => p.First == p.Second) >= 60);
        Ut.Ok("sample", "--prior", prior, "--count", "2", "--steps", "40", "--seed", "5", "--out", P("same"));
        Assert.Equal(File.ReadAllText(P("samples/sample_001.json")), File.ReadAllText(P("same/sample_001.json")));

        // The canvas: 8x8 windows over 8x24, every position redrawn, windows aggregated (the paper's settings: the
        // defaults were measured best on the absorbing prior, not on this pattern-bound one).
        var vqgan = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th");
        Ut.Ok("generate", "--prior", prior, "--preset", "reference", "--shape", "8x24", "--steps", "30", "--vqgan", vqgan, "--out", P("canvas.png"), "--tokens-out", P("canvas.json"));
        var canvas = Tokens(P("canvas.json"));
        Assert.Equal(192, canvas.Length);
        Assert.True(canvas.Where((t, c) => t == Code(c, 24)).Count() >= 0.95 * 192, string.Join(",", canvas));
        Assert.True(File.Exists(P("canvas.png")));
        // Inpainting: the known tokens stay, the region (started random) takes the pattern.
        var edit = canvas.ToArray();
        for (var r = 2; r < 6; r++) for (var c = 8; c < 16; c++) edit[r * 24 + c] = 200;
        File.WriteAllText(P("edit.json"), JsonSerializer.Serialize(new { shape = new[] { 8, 24 }, tokens = edit }));
        Ut.Ok("inpaint", "--prior", prior, "--preset", "reference", "--tokens", P("edit.json"), "--region", "2:6,8:16", "--steps", "30", "--out", P("inpainted.json"));
        var inpainted = Tokens(P("inpainted.json"));
        for (var c = 0; c < 192; c++)
            if (c / 24 is < 2 or >= 6 || c % 24 is < 8 or >= 16) Assert.Equal(edit[c], inpainted[c]);
        Assert.True(Enumerable.Range(0, 192).Where(c => c / 24 is >= 2 and < 6 && c % 24 is >= 8 and < 16).Count(c => inpainted[c] == Code(c, 24)) >= 30);

        // The absorbing prior's samplers and schedules are refused with one line; the file says what it is.
        Assert.Contains("is a sundae prior", Ut.Fails("sample", "--prior", prior, "--sampler", "tau-leaping", "--out", P("no")));
        Assert.Contains("not by --schedule halton", Ut.Fails("sample", "--prior", prior, "--schedule", "halton", "--out", P("no")));
        Assert.Contains("refining (sundae)", Ut.Fails("generate", "--prior", prior, "--shape", "8x24", "--order", "raster", "--out", P("no.png")));
        Assert.False(Directory.Exists(P("no")));
        Assert.False(File.Exists(P("no.png")));
        var (code, output) = PyTorch.Run("-c", $"import torch; m = torch.load('{prior}')._metadata['_denoise_fn']; print(m['model'], m['grid_h'], m['grid_w'], m['shorten'], m['n_head'])");
        Assert.True(code == 0, output);
        Assert.Equal("sundae 8 8 4 2", output.Trim().Split('\n')[^1]);
    }

    [Fact]
    public void AResumedSundaeRunEqualsAnUninterruptedOne()
    {
        Ut.Ok(Train(P("straight"), 40, "--checkpoint-every", "20", "--log-every", "1", "--unroll", "3"));
        Ut.Ok(Train(P("split"), 20, "--checkpoint-every", "20", "--log-every", "1", "--unroll", "3"));
        Ut.Ok(Train(P("split"), 40, "--checkpoint-every", "20", "--log-every", "1", "--unroll", "3", "--resume"));
        Assert.Equal(File.ReadAllLines(P("straight/train_log.jsonl")), File.ReadAllLines(P("split/train_log.jsonl")));
        using var scope = NewDisposeScope();
        var (a, b) = (load_state_dict(P("straight/sundae_ema_40.th")), load_state_dict(P("split/sundae_ema_40.th")));
        Assert.Equal(a.Keys, b.Keys);
        foreach (var (k, v) in a) Assert.True(v.equal(b[k]), k);
    }

    [Fact]
    public void BadSundaeSettingsAreOneLineAndWriteNothing()
    {
        Assert.Contains("pre-valley-post", Ut.Fails([.. Train(P("bad"), 2).Select(a => a == "1-2-1" ? "4" : a)]));
        Assert.Contains("pre-valley-post", Ut.Fails([.. Train(P("bad"), 2).Select(a => a == "1-2-1" ? "24" : a)]));   // the others' default, given, is no depth
        Assert.Contains("--shorten 3: the shortening merges square blocks", Ut.Fails(Train(P("bad"), 2, "--shorten", "3")));
        Assert.Contains("both sides must be multiples of 3", Ut.Fails(Train(P("bad"), 2, "--shorten", "9")));
        Assert.Contains("--unroll must be >= 1", Ut.Fails(Train(P("bad"), 2, "--unroll", "0")));
        Assert.Contains("--unroll is for --model sundae", Ut.Fails([.. Train(P("bad"), 2, "--unroll", "3").Select(a => a == "sundae" ? "transformer" : a == "1-2-1" ? "2" : a)]));
        Assert.Contains("--shorten and an hourglass depth", Ut.Fails([.. Train(P("bad"), 2, "--shorten", "9").Select(a => a == "sundae" ? "dit" : a == "1-2-1" ? "2" : a)]));
        Assert.False(Directory.Exists(P("bad")));
        Assert.Contains("--proportion and --min-steps are for sundae priors", Ut.Fails("sample", "--proportion", "0.3", "--out", P("bad")));
        Assert.Contains("--proportion x: expected a share", Ut.Fails("generate", "--proportion", "x", "--shape", "16x16", "--out", P("bad.png")));
        Assert.False(Directory.Exists(P("bad")));
        Assert.False(File.Exists(P("bad.png")));
    }
}
