using System.Text.Json;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

public class VqGanCliTests : TempDirTest
{
    /// <summary>Small generated images: a coloured square on a coloured background.</summary>
    private string MakeImages(int count, int size = 16)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(1);
        var dir = P("images");
        Directory.CreateDirectory(dir);
        for (var i = 0; i < count; i++)
        {
            var img = ones(3, size, size) * tensor(new[] { rng.NextSingle(), rng.NextSingle(), rng.NextSingle() }, 3, 1, 1);
            var (y, x) = (rng.Next(size - 6), rng.Next(size - 6));
            img[.., y..(y + 6), x..(x + 6)] = (ones(3, 6, 6) * tensor(new[] { rng.NextSingle(), rng.NextSingle(), rng.NextSingle() }, 3, 1, 1));
            Images.Save(img, Path.Combine(dir, $"img{i:000}.png"));
        }
        return dir;
    }

    private static readonly string[] Tiny = { "--size", "16", "--nf", "32", "--ch-mult", "1,1,2", "--res-blocks", "1", "--attn-resolutions", "4",
        "--emb-dim", "32", "--codebook-size", "32", "--ndf", "16", "--disc-layers", "1", "--batch", "8", "--lr", "2e-3" };

    private static JsonElement[] Log(string path) => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [Fact]
    public void TrainingHalvesTheL1ErrorAndTheModelEncodesDecodesAndFeedsThePrior()
    {
        var data = MakeImages(40);
        Ut.Ok(new[] { "train-vqgan", "--data", data, "--out", P("vq"), "--steps", "300", "--disc-start", "250", "--diff-aug",
            "--checkpoint-every", "250", "--log-every", "50", "--preview-every", "300", "--ema-decay", "0.9", "--ema-every", "1" }.Concat(Tiny).ToArray());
        var log = Log(P("vq/train_log.jsonl"));
        var first = log[0].GetProperty("L1").GetDouble();
        var before = log.First(e => e.GetProperty("Step").GetInt64() == 250).GetProperty("L1").GetDouble();
        Assert.True(before <= first / 2, $"L1 {first} at step 1, {before} at step 250");
        var gan = log.Last();
        Assert.True(gan.GetProperty("DWeight").GetDouble() > 0 && gan.GetProperty("DLoss").GetDouble() > 0, gan.ToString());
        Assert.True(File.Exists(P("vq/previews/recon_300.png")));
        Assert.True(File.Exists(P("vq/vqgan_ema_300.th")));
        // Reconstructions are judged before the discriminator starts: the GAN term makes them worse
        // for a while at first (the reference's issue #17 describes the same).
        var vq = P("vq/vqgan_ema_250.th");

        var recon = Ut.Ok("reconstruct", "--vqgan", vq, "--in", Path.Combine(data, "img003.png"), "--out", P("recon.png"), "--size", "16");
        var l1 = double.Parse(recon.Trim().Split("L1 ")[1]);
        Assert.True(l1 < first / 2, $"reconstruction L1 {l1}");
        using (var scope = NewDisposeScope())
            Assert.Equal(new long[] { 3, 16, 16 }, Images.Load(P("recon.png")).shape);

        Ut.Ok("encode", "--vqgan", vq, "--in", Path.Combine(data, "img003.png"), "--out", P("t.json"), "--size", "16");
        var grid = JsonDocument.Parse(File.ReadAllText(P("t.json"))).RootElement;
        Assert.Equal(new[] { 4, 4 }, grid.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()));
        Ut.Ok("decode", "--vqgan", vq, "--tokens", P("t.json"), "--out", P("t.png"));
        // A grid larger than the training grid decodes to the matching size.
        var ids = grid.GetProperty("tokens").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        File.WriteAllText(P("wide.json"), JsonSerializer.Serialize(new { shape = new[] { 4, 8 }, tokens = ids.Concat(ids).ToArray() }));
        Ut.Ok("decode", "--vqgan", vq, "--tokens", P("wide.json"), "--out", P("wide.png"));
        using (var scope = NewDisposeScope())
            Assert.Equal(new long[] { 3, 16, 32 }, Images.Load(P("wide.png")).shape);

        // A latent cache for the prior, with flipped copies; then a prior on it samples images.
        File.WriteAllText(Path.Combine(data, "broken.png"), "not a png");
        var (code, stdout, stderr) = Ut.Run("encode", "--vqgan", vq, "--data", data, "--out", P("latents.th"), "--size", "16", "--hflip");
        Assert.Equal(0, code);
        Assert.Contains("broken.png", stderr);
        Assert.Contains("1 unreadable file(s) skipped", stdout);
        using (var scope = NewDisposeScope())
        {
            var latents = load_tensor(P("latents.th"));
            Assert.Equal(new long[] { 80, 16 }, latents.shape);
            Assert.Equal(ScalarType.Int64, latents.dtype);
        }
        Ut.Ok("train-prior", "--latents", P("latents.th"), "--out", P("prior"), "--codebook-size", "32", "--emb", "32", "--heads", "4",
            "--layers", "1", "--batch", "8", "--steps", "20", "--checkpoint-every", "20", "--timesteps", "16");
        Ut.Ok("sample", "--prior", P("prior/absorbing_20.th"), "--heads", "4", "--vqgan", vq, "--count", "2", "--steps", "4", "--out", P("samples"));
        using (var scope = NewDisposeScope())
            Assert.Equal(new long[] { 3, 16, 16 }, Images.Load(P("samples/sample_001.png")).shape);
        Assert.True(File.Exists(P("samples/sample_001.json")));
    }

    [Fact]
    public void AResumedRunEndsWhereAnUninterruptedOneDoes()
    {
        var data = MakeImages(24);
        string[] Args(string outDir, int steps) => new[] { "train-vqgan", "--data", data, "--out", outDir, "--steps", steps.ToString(), "--disc-start", "15",
            "--diff-aug", "--hflip", "--checkpoint-every", "15", "--log-every", "5", "--preview-every", "0" }.Concat(Tiny).ToArray();
        Ut.Ok(Args(P("straight"), 30));
        Ut.Ok(Args(P("split"), 15));
        Ut.Ok(Args(P("split"), 30).Append("--resume").ToArray());
        Assert.Equal(File.ReadAllLines(P("straight/train_log.jsonl")), File.ReadAllLines(P("split/train_log.jsonl")));
        using var scope = NewDisposeScope();
        var a = load_state_dict(P("straight/vqgan_30.th"));
        var b = load_state_dict(P("split/vqgan_30.th"));
        foreach (var (k, v) in a) Assert.True(v.equal(b[k]), k);
    }

    [Fact]
    public void ADecoderOnlyRunStartsFromAModelKeepsItsCodeAndRetrainsTheDecoder()
    {
        var data = MakeImages(24);
        string[] Train(string outDir, int steps, params string[] more) => new[] { "train-vqgan", "--data", data, "--out", outDir, "--steps", steps.ToString(),
            "--checkpoint-every", steps.ToString(), "--log-every", "5", "--preview-every", "0", "--ema-every", "1" }.Concat(more).ToArray();
        Ut.Ok(Train(P("base"), 40, Tiny));
        var init = P("base/vqgan_40.th");   // the trained weights (an EMA of 40 steps at 0.995 is mostly the initial ones)
        Ut.Ok(Train(P("ft"), 20, [.. Tiny, "--init", init, "--decoder-only", "--disc-start", "5", "--diff-aug"]));

        // It started from the file, not from new weights: its first step's L1 is near the end of the first run's.
        var (baseLog, ftLog) = (Log(P("base/train_log.jsonl")), Log(P("ft/train_log.jsonl")));
        Assert.True(ftLog[0].GetProperty("L1").GetDouble() < 1.2 * baseLog[^1].GetProperty("L1").GetDouble(), $"{ftLog[0]} vs {baseLog[^1]}");
        Assert.True(ftLog[^1].GetProperty("DWeight").GetDouble() > 0, ftLog[^1].ToString());
        using (var scope = NewDisposeScope())
        {
            var before = load_state_dict(init);
            foreach (var file in new[] { "ft/vqgan_20.th", "ft/vqgan_ema_20.th" })
            {
                var after = load_state_dict(P(file));
                var kept = before.Keys.Where(k => k.StartsWith("ae.encoder.") || k.StartsWith("ae.quantize.")).ToList();
                Assert.NotEmpty(kept);
                foreach (var k in kept) Assert.True(after[k].equal(before[k]), $"{file}: {k} changed");
                Assert.Contains(before.Keys.Where(k => k.StartsWith("ae.generator.")), k => !after[k].equal(before[k]));
            }
        }
        // So the latents (and a prior trained on them) stay those of the first model.
        Ut.Ok("encode", "--vqgan", init, "--data", data, "--out", P("a.th"), "--size", "16");
        Ut.Ok("encode", "--vqgan", P("ft/vqgan_ema_20.th"), "--data", data, "--out", P("b.th"), "--size", "16");
        using (var scope = NewDisposeScope())
            Assert.True(load_tensor(P("a.th")).equal(load_tensor(P("b.th"))));

        Assert.Contains("--init", Ut.Fails(Train(P("o1"), 2, [.. Tiny, "--decoder-only"])));
        var narrower = Tiny.Select((a, i) => i > 0 && Tiny[i - 1] == "--emb-dim" ? "16" : a);
        Assert.Contains("not the autoencoder the architecture settings describe", Ut.Fails(Train(P("o2"), 2, [.. narrower, "--init", init])));
        Assert.Contains("no such file", Ut.Fails(Train(P("o3"), 2, [.. Tiny, "--init", P("missing.th")])));
        foreach (var d in new[] { "o1", "o2", "o3" }) Assert.False(Directory.Exists(P(d)), d);
    }

    [Fact]
    public void BadImageInputGetsOneClearLine()
    {
        var data = MakeImages(2);
        Ut.Ok(new[] { "train-vqgan", "--data", data, "--out", P("vq"), "--steps", "2", "--checkpoint-every", "2", "--preview-every", "0" }.Concat(Tiny).ToArray());
        var vq = P("vq/vqgan_2.th");
        File.WriteAllText(P("corrupt.png"), "garbage");
        Assert.Contains("cannot read image", Ut.Fails("encode", "--vqgan", vq, "--in", P("corrupt.png"), "--out", P("o1.json"), "--size", "16"));
        Assert.Contains("smaller than the 64x64 crop", Ut.Fails("encode", "--vqgan", vq, "--in", Path.Combine(data, "img000.png"), "--out", P("o2.json"), "--size", "64"));
        File.WriteAllText(P("short.json"), "{\"shape\":[2,2],\"tokens\":[1,2,3]}");
        Assert.Contains("needs 4 tokens", Ut.Fails("decode", "--vqgan", vq, "--tokens", P("short.json"), "--out", P("o3.png")));
        File.WriteAllText(P("range.json"), "{\"shape\":[1,2],\"tokens\":[1,99]}");
        Assert.Contains("token id out of range", Ut.Fails("decode", "--vqgan", vq, "--tokens", P("range.json"), "--out", P("o4.png")));
        File.WriteAllText(P("notjson.json"), "{{{");
        Assert.Contains("not a token file", Ut.Fails("decode", "--vqgan", vq, "--tokens", P("notjson.json"), "--out", P("o5.png")));
        Ut.Ok("train-prior", "--latents", MakeLatents(), "--out", P("prior"), "--emb", "32", "--heads", "4", "--layers", "1", "--batch", "4",
            "--steps", "2", "--checkpoint-every", "2", "--timesteps", "16");
        Assert.Contains("not a VQ-GAN checkpoint", Ut.Fails("decode", "--vqgan", P("prior/absorbing_2.th"), "--tokens", P("range.json"), "--out", P("o6.png")));
        Assert.Contains("codebook of 32 codes but the prior generates 8", Ut.Fails("sample", "--prior", P("prior/absorbing_2.th"), "--heads", "4", "--vqgan", vq, "--out", P("o7")));
        Assert.Contains("--disc-layers 3 is too deep", Ut.Fails(new[] { "train-vqgan", "--data", data, "--out", P("o8") }.Concat(Tiny.Select((a, i) => i > 0 && Tiny[i - 1] == "--disc-layers" ? "3"
            : a)).ToArray()));
        Assert.Contains("no image files", Ut.Fails(new[] { "train-vqgan", "--data", P("vq"), "--out", P("o9") }.Concat(Tiny).ToArray()));
        foreach (var f in new[] { "o1.json", "o2.json", "o3.png", "o4.png", "o5.png", "o6.png" }) Assert.False(File.Exists(P(f)), f);
        foreach (var d in new[] { "o7", "o8", "o9" }) Assert.False(Directory.Exists(P(d)), d);
    }

    private string MakeLatents()
    {
        using var scope = NewDisposeScope();
        save(randint(0, 8, new long[] { 16, 16 }), P("lat8.pt"));
        return P("lat8.pt");
    }
}
