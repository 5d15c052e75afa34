using System.Diagnostics;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Bad configuration and an unreachable cluster store: one line naming the problem, exit 1, no hang.</summary>
public sealed class SiloConfigTests : GridTest
{
    private static string Repo(string file) => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", file);

    [Fact]
    public void TheRepositorySiloJsonIsValidAndEmbedded()
    {
        var config = SiloConfig.Load(Repo("silo.json"));
        Assert.Equal(new[] { "window", "canvas", "gateway" }, config.Roles);
        Assert.Equal("localhost", config.Cluster.Provider);
        Assert.True(File.Exists(config.Models[0].Prior), config.Models[0].Prior);
    }

    [Fact]
    public void AModelNamedAloneIsTheBundledModelOfThatName()
    {
        var config = SiloConfig.Load(Config("bundled.json", new { Roles = new[] { "window", "canvas" }, Models = new[] { new { Name = "terrain" } } }));
        Assert.Equal((Prior, VqGan), (config.Models[0].Prior, config.Models[0].VqGan));
        Assert.Contains("Models:0:Prior (portraits): file", Assert.Throws<ArgumentException>(() =>
            SiloConfig.Load(Config("unbundled.json", new { Roles = new[] { "window", "canvas" }, Models = new[] { new { Name = "portraits" } } }))).Message);
    }

    [Theory]
    [InlineData("deploy/silo/window.json", "window")]
    [InlineData("deploy/silo/canvas.json", "canvas,gateway")]
    public void TheExampleConfigurationsAreValid(string file, string roles)
    {
        var config = SiloConfig.Load(Repo(file));
        Assert.Equal(roles.Split(','), config.Roles);
        Assert.Equal("redis", config.Cluster.Provider);
        Assert.True(File.Exists(config.Models[0].Prior), config.Models[0].Prior);
    }

    [Fact]
    public void ATrainerRunNamesItsBackboneAndItsSettingsAsTrainPriorDoes()
    {
        var latents = Path.Combine(Path.GetTempPath(), $"ut-latents-{Guid.NewGuid():N}.pt");
        File.WriteAllBytes(latents, [0]);   // only its existence is checked at load
        try
        {
            var config = SiloConfig.Load(Config("trainer.json", new
            {
                Roles = new[] { "trainer" },
                Models = new[] { new { Name = "terrain" } },
                Trainer = new { Kind = "prior", Prior = new { Latents = latents, OutDir = "run", Model = "nat", Crop = "8x8", Backbone = new { Kernel = 3, Layout = "flat", Positions = "learned" } } },
            }));
            var prior = config.Trainer.Prior!;
            Assert.Same(UnleashingTransformers.Models.Backbones.NatBackbone.Instance, prior.Model);
            Assert.Equal((3, UnleashingTransformers.Models.Backbones.NatLayout.Flat, UnleashingTransformers.Models.Backbones.NatPositions.Learned, "8x8"), (prior.Backbone.Kernel,
                prior.Backbone.Layout, prior.Backbone.Positions, prior.Crop));
            Assert.Contains("Trainer:Prior:Model hyena: expected transformer, dit, uvit, nat or sundae", Assert.Throws<ArgumentException>(() => SiloConfig.Load(Config("bad-trainer.json", new
            {
                Roles = new[] { "trainer" },
                Models = new[] { new { Name = "terrain" } },
                Trainer = new { Kind = "prior", Prior = new { Latents = latents, OutDir = "run", Model = "hyena" } },
            }))).Message);
        }
        finally
        {
            File.Delete(latents);
        }
    }

    [Fact]
    public void EnvironmentAndArgumentsOverrideTheFile()
    {
        var path = Config("silo.json", new { Roles = new[] { "window", "canvas" }, Window = new { MaxBatch = 4 } });
        Environment.SetEnvironmentVariable("UTTEST__Window__MaxBatch", "6");
        Environment.SetEnvironmentVariable("UTTEST__Window__Replicas", "2");
        try
        {
            var config = SiloConfig.Load(path, ["Window:MaxBatch=12", "Cluster:Provider=redis", "Cluster:Redis=127.0.0.1:7000"], environmentPrefix: "UTTEST__");
            Assert.Equal(12, config.Window.MaxBatch); // argument over environment over file
            Assert.Equal(2, config.Window.Replicas);
            Assert.Equal("127.0.0.1:7000", config.Cluster.Redis);
        }
        finally
        {
            Environment.SetEnvironmentVariable("UTTEST__Window__MaxBatch", null);
            Environment.SetEnvironmentVariable("UTTEST__Window__Replicas", null);
        }
    }

    [Fact]
    public void BadConfigurationsAreOneLineEachWithinSeconds()
    {
        var sw = Stopwatch.StartNew();
        Assert.Contains("unknown role 'painter'", Ut.Fails("silo", "--config", Config("a.json", new { Roles = new[] { "window", "painter" } })));
        Assert.Contains("Models:0:Prior (t): file", Ut.Fails("silo", "--config", Config("b.json", new
        {
            Roles = new[] { "window", "canvas" }, Models = new[] { new { Name = "t", Prior = P("nope.th"),
            VqGan } }
        })));
        Assert.Contains("Cluster:Provider 'zookeeper': expected localhost or redis",
            Ut.Fails("silo", "--config", Config("c.json", new { Roles = new[] { "window", "canvas" } }), "Cluster:Provider=zookeeper"));
        Assert.Contains("Cluster:Redis '': expected host:port", Ut.Fails("silo", "--config", Config("d.json", new { Roles = new[] { "window" } }), "Cluster:Provider=redis"));
        Assert.Contains("unknown setting 'Windoww'", Ut.Fails("silo", "--config", Config("e.json", new { Roles = new[] { "window", "canvas" }, Windoww = new { MaxBatch = 2 } })));
        Assert.Contains("unknown setting 'Broker'", Ut.Fails("silo", "--config", Config("e2.json", new { Roles = new[] { "window", "canvas" }, Broker = new { Uri = "amqp://x" } })));
        Assert.Contains("canvas role needs window replicas", Ut.Fails("silo", "--config", Config("f.json", new { Roles = new[] { "canvas" } })));
        Assert.Contains("Ops:Port and Gateway:Port are both 8090", Ut.Fails("silo", "--config", Config("h.json", new
        {
            Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = 8090 },
            Ops = new { Port = 8090 }
        })));
        Assert.Contains("Ops:Port 70000 is not a port", Ut.Fails("silo", "--config", Config("i.json", new { Roles = new[] { "window", "canvas" }, Ops = new { Port = 70000 } })));
        Assert.Contains("file not found", Ut.Fails("silo", "--config", P("missing.json")));
        // Models: the form before models had names, a name twice, a budget no model fits, a name that is no name.
        Assert.Contains("Models is a list of named models now", Ut.Fails("silo", "--config", Config("m1.json", new { Roles = new[] { "window", "canvas" }, Models = new { Prior, VqGan } })));
        Assert.Contains("Models:1:Name 't' is listed twice", Ut.Fails("silo", "--config", Config("m2.json", new
        {
            Roles = new[] { "window", "canvas" }, Models = new[] { new { Name = "t", Prior,
            VqGan }, new { Name = "t", Prior, VqGan } }
        })));
        Assert.Contains("model terrain takes 8 MB on this silo (1 replica(s) and its VQ-GAN), more than Window:MemoryBudgetMb 1",
            Ut.Fails("silo", "--config", Config("m3.json", new { Roles = new[] { "window", "canvas" } }), "Window:MemoryBudgetMb=1"));
        Assert.Contains("Models:0:Name: model name 'a b'", Ut.Fails("silo", "--config", Config("m4.json", new
        {
            Roles = new[] { "window", "canvas" }, Models = new[] { new { Name = "a b", Prior,
            VqGan } }
        })));
        Assert.Contains("Models is empty", Ut.Fails("silo", "--config", Config("m5.json", new { Roles = new[] { "window", "canvas" }, Models = Array.Empty<object>() })));
        File.WriteAllText(P("g.json"), "{ \"Roles\": [ ");
        Assert.Contains("not valid JSON", Ut.Fails("silo", "--config", P("g.json")));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
    }

    [Fact]
    public void AnUnreachableRedisFailsAtStartWithinTenSeconds()
    {
        var closed = $"127.0.0.1:{Ports.Free()}";
        var sw = Stopwatch.StartNew();
        Assert.Contains("redis-server is unreachable", Ut.Fails("silo", "--config", Config("w.json", new { Roles = new[] { "window" } }), "Cluster:Provider=redis", $"Cluster:Redis={closed}"));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Contains("redis-server is unreachable", Ut.Fails("submit", "--cluster", $"redis://{closed}", "--shape", "16x16", "--out", P("x.png")));
        Assert.False(File.Exists(P("x.png")));
    }
}
