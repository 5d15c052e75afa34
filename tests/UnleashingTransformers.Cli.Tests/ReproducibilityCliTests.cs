using System.Text.Json;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Cli.Tests;

/// <summary>Every PNG says how it was made, and <c>ut generate --from</c> makes it again.</summary>
public class ReproducibilityCliTests : TempDirTest
{
    private static readonly string Prior = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "absorbing_ema.th");

    private static JsonElement Parameters(string image) => JsonDocument.Parse(Ut.Ok("info", "--image", image)).RootElement;

    [Fact]
    public void TheDefaultsAreTheMeasuredBestAndThePresetReferenceIsThePapers()
    {
        string[] job = ["generate", "--shape", "16x24", "--seed", "4"];
        string Tokens(string name, params string[] flags)
        {
            Ut.Ok([.. job, .. flags, "--out", P($"{name}.png"), "--tokens-out", P($"{name}.json")]);
            return File.ReadAllText(P($"{name}.json"));
        }
        // No flags: shifted windows, Halton in 32 steps, temperature 0.8 (bench/README.md's best for the cost).
        var defaults = Tokens("defaults");
        Assert.Equal(defaults, Tokens("best", "--tiling", "shifted", "--schedule", "halton", "--steps", "32", "--temp", "0.8"));
        Assert.NotEqual(defaults, Tokens("hotter", "--temp", "1.0"));
        // The paper's settings by name; flags given still win over the preset's (64 steps here, not its 256).
        var reference = Tokens("reference", "--preset", "reference", "--steps", "64");
        Assert.Equal(reference, Tokens("paper", "--tiling", "overlap", "--schedule", "reciprocal", "--steps", "64", "--temp", "0.8", "--aggregate", "mean"));
        Assert.NotEqual(defaults, reference);
        // The raster order takes the reference's windows and 1/t law when it is given neither.
        Ut.Ok("generate", "--order", "raster", "--shape", "8x9", "--out", P("raster.png"));
        Assert.Contains("preset 'fast': expected best or reference", Ut.Fails([.. job, "--preset", "fast", "--out", P("no.png")]));
        Assert.False(File.Exists(P("no.png")));
    }

    [Fact]
    public void AGeneratedPngRecordsItsJobAndGenerateFromMakesTheSameBytes()
    {
        Ut.Ok("generate", "--shape", "8x16", "--steps", "12", "--seed", "9", "--schedule", "confidence", "--temp", "0.9:0.6", "--top-p", "0.9",
            "--tiling", "shifted", "--out", P("a.png"));
        var recorded = Parameters(P("a.png"));
        var job = recorded.GetProperty("job");
        Assert.Equal((8, 16, 12, 9UL), (job.GetProperty("height").GetInt32(), job.GetProperty("width").GetInt32(), job.GetProperty("steps").GetInt32(), job.GetProperty("seed").GetUInt64()));
        Assert.Equal(("confidence", "shifted", 0.9, 0.6, 0.9), (job.GetProperty("schedule").GetString(), job.GetProperty("tiling").GetString(),
            job.GetProperty("temperature").GetDouble(), job.GetProperty("temperatureEnd").GetDouble(), job.GetProperty("topP").GetDouble()));
        Assert.Equal(16, recorded.GetProperty("prior").GetString()!.Length);      // the weights' versions: SHA-256 prefixes
        Assert.Equal(16, recorded.GetProperty("vqGan").GetString()!.Length);

        Ut.Ok("generate", "--from", P("a.png"), "--out", P("again.png"));
        Assert.Equal(File.ReadAllBytes(P("a.png")), File.ReadAllBytes(P("again.png")));

        // What cannot make the same image is refused, naming why.
        Assert.Contains("leave out --seed", Ut.Fails("generate", "--from", P("a.png"), "--seed", "3", "--out", P("x.png")));
        var other = P("other.th");
        File.Copy(Prior, other);
        File.AppendAllText(other, "\n");                                          // other bytes: another version
        Assert.Contains("made with the prior of version", Ut.Fails("generate", "--from", P("a.png"), "--prior", other, "--out", P("x.png")));
        Ut.Ok("inpaint", "--in", P("a.png"), "--region", "0:4,0:4", "--steps", "4", "--out", P("edited.png"));
        Assert.Equal("0:4,0:4", Parameters(P("edited.png")).GetProperty("job").GetProperty("region").GetString());
        Assert.Contains("made from another canvas", Ut.Fails("generate", "--from", P("edited.png"), "--out", P("x.png")));
        Ut.Ok("sample", "--count", "1", "--steps", "4", "--vqgan", Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th"), "--out", P("s"));
        Assert.Equal(4, Parameters(P("s/sample_000.png")).GetProperty("sample").GetProperty("steps").GetInt32());
        Assert.Contains("not a canvas job's", Ut.Fails("generate", "--from", P("s/sample_000.png"), "--out", P("x.png")));
        Assert.False(File.Exists(P("x.png")));
    }

    [Fact]
    public void CanvasesAreWrittenAsPngTiledTiffOrADeepzoomPyramidByTheExtension()
    {
        var vqgan = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th");
        Ut.Ok("generate", "--shape", "8x40", "--steps", "4", "--out", P("a.png"), "--tokens-out", P("a.json"));
        Ut.Ok("decode", "--vqgan", vqgan, "--tokens", P("a.json"), "--out", P("a.tif"));
        Ut.Ok("decode", "--vqgan", vqgan, "--tokens", P("a.json"), "--out", P("a.dzi"));
        using (Torch.torch.NewDisposeScope())
            Assert.True(Imaging.Images.LoadRgb(P("a.png")).equal(Imaging.Images.LoadRgb(P("a.tif"))), "the TIFF's full-size page is the PNG's pixels");
        // The pyramid: a .dzi naming the size and levels 0 (1x1) to 9 (320 px wide) of 254-px tiles.
        var dzi = File.ReadAllText(P("a.dzi"));
        Assert.Contains("Width=\"320\"", dzi);
        Assert.Contains("Height=\"64\"", dzi);
        Assert.True(File.Exists(P("a_files/0/0_0.jpeg")));
        Assert.True(File.Exists(P("a_files/9/1_0.jpeg")));
        Assert.False(Directory.Exists(P("a_files/10")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Dir), f => Path.GetFileName(f).StartsWith('.'));   // no temporaries left
        Assert.Contains("unknown image format", Ut.Fails("decode", "--vqgan", vqgan, "--tokens", P("a.json"), "--out", P("a.bmp")));
    }

    [Fact]
    public async Task ALargeGridDecodesInStripsWithBoundedMemoryMeasuredInTheChildProcess()
    {
        // 128x128 tokens of the bundled VQ-GAN: 1024x1024 px. Whole, its attention at token resolution alone would
        // hold a 16384 x 16384 float matrix (1 GiB); in strips of tiles the process stays far below that.
        var rng = new Random(5);
        File.WriteAllText(P("big.json"), JsonSerializer.Serialize(new { shape = new[] { 128, 128 }, tokens = Enumerable.Range(0, 128 * 128).Select(_ => rng.Next(256)).ToArray() }));
        using var p = System.Diagnostics.Process.Start(Ut.Start("decode", "--vqgan", Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th"),
            "--tokens", P("big.json"), "--out", P("big.png")))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        long peakKb = 0;
        while (!p.HasExited)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{p.Id}/status"))
                    if (line.StartsWith("VmHWM:")) peakKb = Math.Max(peakKb, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
            }
            catch (IOException)
            {
                // the process ended between the check and the read
            }
            await Task.Delay(20);
        }
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await stderr);
        Assert.Contains("1024x1024 px", await stdout);
        Assert.InRange(peakKb, 50_000, 700_000);                              // measured: 374 MB, most of it the runtime and libtorch
        using (Torch.torch.NewDisposeScope())
            Assert.Equal(new long[] { 3, 1024, 1024 }, Imaging.Images.LoadRgb(P("big.png")).shape);
    }
}
