using System.Text.Json;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

/// <summary>Schedules and edits through the <c>ut</c> program, as a user runs them.</summary>
public class EditingCliTests : TempDirTest
{
    private static readonly long[] Pattern = Enumerable.Range(0, 16).Select(i => (long)(i * 3 % 8)).ToArray();
    private static readonly string VqGan = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th");

    private static long[] Tokens(string file) =>
        JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt64()).ToArray();

    private static void WriteTokens(string file, int h, int w, long[] tokens) =>
        File.WriteAllText(file, JsonSerializer.Serialize(new { shape = new[] { h, w }, tokens }));

    [Fact]
    public void APriorTrainedOnAPatternSamplesItWithEveryScheduleAndRestoresAMaskedRegion()
    {
        using (NewDisposeScope())
            save(from_array<long>(Pattern, 1, 16).repeat(64, 1), P("latents.pt"));
        Ut.Ok("train-prior", "--latents", P("latents.pt"), "--out", P("run"), "--batch", "16", "--lr", "3e-3", "--warmup", "20", "--steps", "300",
            "--checkpoint-every", "300", "--emb", "32", "--heads", "4", "--layers", "2", "--timesteps", "16");
        var prior = P("run/absorbing_300.th");

        // Confidence and Halton in 4 steps (the paper's schedule needs more) follow the pattern.
        foreach (var schedule in new[] { "confidence", "halton" })
        {
            Ut.Ok("sample", "--prior", prior, "--heads", "4", "--schedule", schedule, "--steps", "4", "--count", "8", "--seed", "3", "--out", P(schedule));
            var match = Enumerable.Range(0, 8).Sum(i => Tokens(P($"{schedule}/sample_{i:000}.json")).Zip(Pattern).Count(p => p.First == p.Second));
            Assert.True(match >= 0.95 * 8 * 16, $"{schedule}: {match} of {8 * 16} tokens follow the pattern");
        }

        // The pattern with a 2x3 region scrambled, and one scrambled token outside it that must stay as it is.
        var input = Pattern.ToArray();
        bool Inside(int i) => i / 4 is >= 1 and < 3 && i % 4 is >= 1 and < 4;
        for (var i = 0; i < 16; i++)
            if (Inside(i) || i == 0) input[i] = (input[i] + 5) % 8;
        WriteTokens(P("in.json"), 4, 4, input);
        long restored = 0;
        for (var seed = 0; seed < 6; seed++)
        {
            Ut.Ok("inpaint", "--prior", prior, "--heads", "4", "--tokens", P("in.json"), "--region", "1:3,1:4", "--steps", "6", "--seed", seed.ToString(),
                "--out", P($"out{seed}.json"));
            var output = Tokens(P($"out{seed}.json"));
            for (var i = 0; i < 16; i++)
                if (Inside(i)) restored += output[i] == Pattern[i] ? 1 : 0;
                else Assert.Equal(input[i], output[i]);                       // outside the region: kept exactly
        }
        Assert.True(restored >= 0.95 * 6 * 6, $"{restored} of 36 region tokens restored");

        // Bad edits: one line, exit 1, no output.
        Assert.Contains("inside the 4x4 token grid", Ut.Fails("inpaint", "--prior", prior, "--heads", "4", "--tokens", P("in.json"), "--region", "0:5,0:2", "--out", P("bad.json")));
        Assert.Contains("expected R0:R1,C0:C1", Ut.Fails("inpaint", "--prior", prior, "--heads", "4", "--tokens", P("in.json"), "--region", "1-3", "--out", P("bad.json")));
        Assert.Contains("exactly one of --region", Ut.Fails("inpaint", "--prior", prior, "--heads", "4", "--tokens", P("in.json"), "--out", P("bad.json")));
        Assert.Contains("--mask is a pixel mask for --in", Ut.Fails("inpaint", "--prior", prior, "--tokens", P("in.json"), "--mask", P("in.json"), "--out", P("bad.json")));
        Assert.Contains("needs --vqgan", Ut.Fails("inpaint", "--prior", prior, "--heads", "4", "--tokens", P("in.json"), "--region", "0:1,0:1", "--out", P("bad.png")));
        Assert.Contains("--schedule", Ut.Fails("sample", "--prior", prior, "--heads", "4", "--sampler", "mlm", "--schedule", "halton", "--out", P("s")));
        Assert.False(File.Exists(P("bad.json")) || File.Exists(P("bad.png")));
    }

    [Fact]
    public void APixelMaskRegeneratesTheTokensItTouchesAndOutpaintingKeepsTheAnchoredTokens()
    {
        // An 8x8-token grid of the bundled model, decoded to a 64x64 image, and re-encoded at its own size.
        Ut.Ok("generate", "--shape", "8x8", "--steps", "8", "--seed", "2", "--out", P("img.png"), "--tokens-out", P("img.json"));
        Ut.Ok("encode", "--vqgan", VqGan, "--in", P("img.png"), "--out", P("enc.json"));
        var encoded = Tokens(P("enc.json"));
        Assert.Equal(64, encoded.Length);

        // White on rows 0-9, columns 0-9: by any overlap the 8-px tokens (0,0), (0,1), (1,0), (1,1).
        using (NewDisposeScope())
        {
            var mask = zeros(new long[] { 3, 64, 64 }, dtype: ScalarType.Byte);
            mask.narrow(1, 0, 10).narrow(2, 0, 10).fill_(255);
            Images.Save(mask, P("mask.png"));
            Images.Save(zeros(new long[] { 3, 32, 32 }, dtype: ScalarType.Byte), P("small-mask.png"));
            Images.Save(zeros(new long[] { 3, 64, 64 }, dtype: ScalarType.Byte), P("black.png"));
        }
        Ut.Ok("inpaint", "--in", P("img.png"), "--mask", P("mask.png"), "--steps", "8", "--seed", "4", "--out", P("edited.png"), "--tokens-out", P("edited.json"));
        var edited = Tokens(P("edited.json"));
        var regenerated = new[] { 0, 1, 8, 9 };
        for (var i = 0; i < 64; i++)
            if (!regenerated.Contains(i)) Assert.Equal(encoded[i], edited[i]);
        Assert.NotEqual(regenerated.Select(i => encoded[i]), regenerated.Select(i => edited[i]));
        Assert.True(File.Exists(P("edited.png")));
        Assert.Contains("give a mask of the image's size", Ut.Fails("inpaint", "--in", P("img.png"), "--mask", P("small-mask.png"), "--out", P("x.png")));
        Assert.Contains("no white pixel", Ut.Fails("inpaint", "--in", P("img.png"), "--mask", P("black.png"), "--out", P("x.png")));
        Assert.False(File.Exists(P("x.png")));

        // Outpainting: the 8x8 tokens at row 4, column 8 of a 16x24 canvas stay exactly; the rest is generated.
        Ut.Ok("generate", "--init", P("img.json"), "--anchor", "4,8", "--shape", "16x24", "--steps", "16", "--schedule", "halton",
            "--out", P("wide.png"), "--tokens-out", P("wide.json"));
        var known = Tokens(P("img.json"));
        var wide = Tokens(P("wide.json"));
        for (var r = 0; r < 8; r++)
            for (var c = 0; c < 8; c++) Assert.Equal(known[r * 8 + c], wide[(4 + r) * 24 + 8 + c]);
        Assert.Contains("do not fit", Ut.Fails("generate", "--init", P("img.json"), "--anchor", "10,0", "--shape", "16x24", "--out", P("y.png")));
        Assert.Contains("--anchor", Ut.Fails("generate", "--init", P("img.json"), "--anchor", "a,b", "--shape", "16x24", "--out", P("y.png")));
        Assert.False(File.Exists(P("y.png")));
    }
}
