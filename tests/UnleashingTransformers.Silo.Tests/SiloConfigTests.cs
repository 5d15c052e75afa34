using System.Diagnostics;
using UnleashingTransformers.Cli.Tests;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Bad configuration and an unreachable broker: one line naming the problem, exit 1, no hang.</summary>
public sealed class SiloConfigTests : GridTest
{
    [Fact]
    public void The_repository_silo_json_is_valid_and_embedded()
    {
        var repoConfig = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "silo.json");
        var config = SiloConfig.Load(repoConfig);
        Assert.Equal(new[] { "window", "canvas", "gateway" }, config.Roles);
        Assert.False(config.Broker.Configured);
        Assert.True(File.Exists(config.Models.Prior), config.Models.Prior);
    }

    [Theory]
    [InlineData("deploy/silo/window.json", "window")]
    [InlineData("deploy/silo/canvas.json", "canvas,gateway")]
    public void The_example_configurations_are_valid(string file, string roles)
    {
        var config = SiloConfig.Load(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", file));
        Assert.Equal(roles.Split(','), config.Roles);
        Assert.True(config.Broker.Configured);
        Assert.True(File.Exists(config.Models.Prior), config.Models.Prior);
    }

    [Fact]
    public void Environment_and_arguments_override_the_file()
    {
        var path = Config("silo.json", new { Roles = new[] { "window", "canvas" }, Window = new { MaxBatch = 4 } });
        Environment.SetEnvironmentVariable("UTTEST__Window__MaxBatch", "6");
        Environment.SetEnvironmentVariable("UTTEST__Window__Replicas", "2");
        try
        {
            var config = SiloConfig.Load(path, ["Window:MaxBatch=12"], environmentPrefix: "UTTEST__");
            Assert.Equal(12, config.Window.MaxBatch); // argument over environment over file
            Assert.Equal(2, config.Window.Replicas);
        }
        finally
        {
            Environment.SetEnvironmentVariable("UTTEST__Window__MaxBatch", null);
            Environment.SetEnvironmentVariable("UTTEST__Window__Replicas", null);
        }
    }

    [Fact]
    public void Bad_configurations_are_one_line_each()
    {
        Assert.Contains("unknown role 'painter'", Ut.Fails("silo", "--config", Config("a.json", new { Roles = new[] { "window", "painter" } })));
        Assert.Contains("Models:Prior: file", Ut.Fails("silo", "--config", Config("b.json", new { Roles = new[] { "window", "canvas" }, Models = new { Prior = P("nope.th"), VqGan = VqGan } })));
        Assert.Contains("is not a broker address", Ut.Fails("silo", "--config", Config("c.json", new { Roles = new[] { "window" }, Broker = new { Uri = "http://x" } })));
        Assert.Contains("guest login only works on loopback", Ut.Fails("silo", "--config", Config("d.json", new { Roles = new[] { "window" }, Broker = new { Uri = "amqp://rabbit.example:5672" } })));
        Assert.Contains("unknown setting 'Windoww'", Ut.Fails("silo", "--config", Config("e.json", new { Roles = new[] { "window", "canvas" }, Windoww = new { MaxBatch = 2 } })));
        Assert.Contains("canvas role needs window replicas", Ut.Fails("silo", "--config", Config("f.json", new { Roles = new[] { "canvas" } })));
        Assert.Contains("file not found", Ut.Fails("silo", "--config", P("missing.json")));
        File.WriteAllText(P("g.json"), "{ \"Roles\": [ ");
        Assert.Contains("not valid JSON", Ut.Fails("silo", "--config", P("g.json")));
    }

    [Fact]
    public void An_unreachable_broker_fails_at_start_without_hanging()
    {
        var closed = $"amqp://127.0.0.1:{RabbitMqBroker.FreePort()}";
        var sw = Stopwatch.StartNew();
        Assert.Contains("is unreachable", Ut.Fails("silo", "--config", Config("w.json", new { Roles = new[] { "window" }, Broker = new { Uri = closed } })));
        Assert.Contains("is unreachable", Ut.Fails("generate", "--shape", "16x32", "--out", P("x.png"), "--grid", closed));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
        Assert.False(File.Exists(P("x.png")));
    }
}
