using System.Text.Json;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

public class EvalCliTests : TempDirTest
{
    private static string Bundled(string file) => Path.Combine(AppContext.BaseDirectory, "models", "terrain", file);

    private string Terrain(string name, int world, int count = 24)
    {
        Ut.Ok("dataset", "terrain", "--out", P(name), "--count", count.ToString(), "--size", "64", "--seed", world.ToString());
        return P(name);
    }

    /// <summary>The JSON object is the last line of standard output, and --json holds the same.</summary>
    private JsonElement Eval(params string[] args)
    {
        var stdout = Ut.Ok(["eval", .. args, "--json", P("eval.json")]);
        var last = stdout.Trim().Split('\n')[^1];
        Assert.Equal(last, File.ReadAllText(P("eval.json")).Trim());
        return JsonDocument.Parse(last).RootElement;
    }

    private static double Swd(JsonElement result) => result.GetProperty("images").GetProperty("swd").GetProperty("mean").GetDouble();

    [Fact]
    public void TerrainStatisticsTellAnotherWorldFromMapsWithoutTerrain()
    {
        var world0 = Terrain("world0", 0);
        var world1 = Terrain("world1", 1);
        Directory.CreateDirectory(P("grey"));
        using (NewDisposeScope())
        {
            using var g = new Generator(5);
            for (var i = 0; i < 24; i++) Images.Save(0.45 + 0.1 * rand(new long[] { 1, 64, 64 }, g).expand(3, 64, 64), P($"grey/g{i:00}.png"));
        }
        var another = Eval("--real", world0, "--fake", world1, "--terrain").GetProperty("terrain");
        var grey = Eval("--real", world0, "--fake", P("grey"), "--terrain").GetProperty("terrain");
        double Of(JsonElement t, string key) => t.GetProperty(key).GetDouble();
        var real = another.GetProperty("real");
        Assert.Equal(24, real.GetProperty("images").GetInt32());
        Assert.True(real.GetProperty("classes").GetProperty("water").GetDouble() > 0.05, real.ToString());
        Assert.True(Of(real, "sandyShore") > 0.3, real.ToString());   // the generator rings its water with beaches
        Assert.True(Of(another, "classDistance") < 0.3 && Of(grey, "classDistance") > 0.8, $"{another} / {grey}");
        Assert.True(Of(another, "landSizeDistance") < Of(grey, "landSizeDistance"), $"{another} / {grey}");
        Assert.Equal(0, Of(grey.GetProperty("generated"), "waterBodiesPerMpx"));
    }

    [Fact]
    public void TheSwdRanksAnotherWorldAboveNoiseAndNearestNeighboursFindCopies()
    {
        var world0 = Terrain("world0", 0);
        var world1 = Terrain("world1", 1);
        Directory.CreateDirectory(P("noise"));
        using (NewDisposeScope())
        {
            using var g = new Generator(3);
            for (var i = 0; i < 24; i++) Images.Save(rand(new long[] { 3, 64, 64 }, g), P($"noise/n{i:00}.png"));
        }
        // Copies of two real images among generated ones: memorisation, as the neighbours must show it.
        Directory.CreateDirectory(P("copies"));
        var originals = new[] { "terrain_00005.png", "terrain_00017.png" };
        foreach (var f in originals) File.Copy(Path.Combine(world0, f), P($"copies/{f}"));

        var another = Eval("--real", world0, "--fake", world1, "--count", "24");
        var noise = Eval("--real", world0, "--fake", P("noise"), "--count", "24");
        Assert.Equal(24, another.GetProperty("images").GetProperty("crops").GetInt32());
        Assert.Equal(3, another.GetProperty("images").GetProperty("swd").GetProperty("levels").GetArrayLength());   // 64, 32, 16 px
        Assert.True(Swd(another) > 0 && Swd(another) * 2 < Swd(noise), $"another world {Swd(another):F1}, noise {Swd(noise):F1}");
        // Seeded: the same figures again.
        Assert.Equal(Swd(another), Swd(Eval("--real", world0, "--fake", world1, "--count", "24")));

        var copies = Eval("--real", world0, "--fake", P("copies"), "--count", "24", "--k", "3", "--neighbours", P("nn.png"));
        var nearest = copies.GetProperty("images").GetProperty("nearest").EnumerateArray().ToArray();
        Assert.Equal(2, nearest.Length);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(Path.Combine(world0, originals[i]), nearest[i].GetProperty("real")[0].GetProperty("file").GetString());
            Assert.True(nearest[i].GetProperty("distance")[0].GetDouble() < 1e-6);
            Assert.True(nearest[i].GetProperty("distance")[1].GetDouble() > 0.01);   // the next nearest is another image
            Assert.Equal(3, nearest[i].GetProperty("real").GetArrayLength());
        }
        using (NewDisposeScope())
        {
            var picture = Images.LoadRgb(P("nn.png"));
            Assert.Equal(new long[] { 3, 2 * 66 + 2, 4 * 66 + 2 }, picture.shape);   // 2 rows of a copy and its 3 nearest
        }
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    [PyTorchFact]
    public void FeatureFiguresEqualNumpyAndScipyOnTheSameFeatures()
    {
        var world0 = Terrain("world0", 0, count: 20);
        var world1 = Terrain("world1", 1, count: 20);
        var (code, output) = PyTorch.Run(Fixture("make_feature_net.py"), P("net.pt"));
        Assert.True(code == 0, output);

        var result = Eval("--real", world0, "--fake", world1, "--count", "20", "--features", P("net.pt"), "--features-size", "48",
            "--features-range=-1,1", "--features-arg", "return_features=true", "--save-features", P("features"), "--prdc-k", "3");
        var features = result.GetProperty("images").GetProperty("features");
        Assert.Equal(16, features.GetProperty("dims").GetInt32());
        Assert.Equal(20, features.GetProperty("real").GetInt32());

        // PyTorch computes the real features from the image files as the flags say (size 48, range -1..1),
        // and numpy/scipy the figures from the saved features.
        (code, output) = PyTorch.Run(Fixture("check_features.py"), P("net.pt"), world0, "48", "-1", "1", P("features"), "3");
        Assert.True(code == 0, output);
        var numpy = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(20, numpy.GetProperty("rows").GetInt32());
        Assert.True(numpy.GetProperty("featuresFromImages").GetDouble() < 1e-4, output);
        foreach (var name in new[] { "fid", "precision", "recall", "density", "coverage" })
            Assert.True(Math.Abs(numpy.GetProperty(name).GetDouble() - features.GetProperty(name).GetDouble()) < 1e-6 * Math.Max(1, Math.Abs(numpy.GetProperty(name).GetDouble())),
                $"{name}: ut {features.GetProperty(name)}, numpy {numpy.GetProperty(name)}");
        Assert.True(Math.Abs(numpy.GetProperty("kid").GetDouble() - features.GetProperty("kid").GetProperty("mean").GetDouble()) < 1e-9, output);
        // Two worlds differ: a positive FID; a set against itself: FID ~0, precision and recall 1.
        Assert.True(features.GetProperty("fid").GetDouble() > 1e-4);
        var itself = Eval("--real", world0, "--fake", world0, "--count", "20", "--features", P("net.pt"), "--features-size", "48",
            "--features-arg", "return_features=true").GetProperty("images").GetProperty("features");
        Assert.True(Math.Abs(itself.GetProperty("fid").GetDouble()) < 1e-6, itself.ToString());
        Assert.Equal(1.0, itself.GetProperty("precision").GetDouble());
        Assert.Equal(1.0, itself.GetProperty("coverage").GetDouble());
    }

    [Fact]
    public void ThePriorFindsRealLatentsMoreLikelyThanRandomOnes()
    {
        var world0 = Terrain("world0", 0, count: 16);
        Ut.Ok("encode", "--data", world0, "--vqgan", Bundled("vqgan_ema.th"), "--out", P("real.th"), "--size", "64");
        using (NewDisposeScope())
        {
            using var g = new Generator(5);
            torch.save(randint(0, 256, new long[] { 16, 64 }, g, int64), P("random.th"));
        }
        double Bits(string latents) => Eval("--prior", Bundled("absorbing_ema.th"), "--latents", latents, "--count", "16")
            .GetProperty("elbo").GetProperty("bitsPerToken").GetDouble();
        var (real, random) = (Bits(P("real.th")), Bits(P("random.th")));
        Assert.True(real > 0 && real + 1 < random, $"real {real:F3}, random {random:F3} bits per token");
    }

    [Fact]
    public void BadEvaluationsAreOneLine()
    {
        Assert.Contains("nothing to evaluate", Ut.Fails("eval"));
        Assert.Contains("give both --real DIR and --fake DIR", Ut.Fails("eval", "--real", Dir));
        Assert.Contains("no such directory", Ut.Fails("eval", "--real", P("missing"), "--fake", Dir));
        var world0 = Terrain("world0", 0, count: 2);
        Assert.Contains("no image is 128 px or more a side", Ut.Fails("eval", "--real", world0, "--fake", world0, "--crop", "128"));
        Assert.Contains("--latents", Ut.Fails("eval", "--prior", Bundled("absorbing_ema.th"), "--latents", P("missing.th")));
        File.WriteAllText(P("not-latents.th"), "hello");
        Assert.Contains("not-latents.th", Ut.Fails("eval", "--prior", Bundled("absorbing_ema.th"), "--latents", P("not-latents.th")));
        // A failure leaves no output behind: no picture of neighbours, no JSON.
        Assert.Contains("not-latents.th", Ut.Fails("eval", "--real", world0, "--fake", world0, "--neighbours", P("nn.png"), "--json", P("e.json"),
            "--prior", Bundled("absorbing_ema.th"), "--latents", P("not-latents.th")));
        Assert.False(File.Exists(P("nn.png")) || File.Exists(P("e.json")));
        // A feature network that is not TorchScript: one line naming it, no outputs.
        File.WriteAllText(P("not-net.pt"), "not a network");
        var error = Ut.Fails("eval", "--real", world0, "--fake", world0, "--features", P("not-net.pt"), "--neighbours", P("nn.png"), "--json", P("e.json"));
        Assert.Contains("not-net.pt: not a TorchScript file", error);
        Assert.False(File.Exists(P("nn.png")) || File.Exists(P("e.json")));
        Assert.Contains("--features", Ut.Fails("eval", "--real", world0, "--fake", world0, "--features", P("missing.pt")));
        Assert.Contains("--save-features needs --features", Ut.Fails("eval", "--real", world0, "--fake", world0, "--save-features", P("f")));
        Assert.Contains("--features-range", Ut.Fails("eval", "--real", world0, "--fake", world0, "--features", P("not-net.pt"), "--features-range", "0"));
    }
}
