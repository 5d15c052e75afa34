using UnleashingTransformers.Cli.Tests;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The trainer role: killed, it resumes from its last checkpoint as if never interrupted; each
/// checkpoint is announced, window replicas reload it, and then refuse requests meant for the old weights.</summary>
[Collection(BrokerCollection.Name)]
public sealed class TrainerRoleTests(RabbitMqBroker broker) : GridTest
{
    private string Latents()
    {
        using var scope = NewDisposeScope();
        var path = P("latents.pt");
        using var g = new Torch.Generator(5);
        save(randint(0, 8, [96, 16], generator: g), path);
        return path;
    }

    private string TrainerConfig(string name, string outDir, string latents, object? brokerSettings = null) => Config(name, new
    {
        Roles = new[] { "trainer" },
        Broker = brokerSettings ?? new { Uri = "" },
        Trainer = new
        {
            Kind = "prior",
            Prior = new { Latents = latents, OutDir = outDir, Emb = 64, Heads = 4, Layers = 2, Timesteps = 16, Batch = 16, Lr = 1e-3, Warmup = 10, Steps = 600, CheckpointEvery = 30, LogEvery = 10, EvalEvery = 0 },
        },
    });

    [Fact]
    public void A_killed_trainer_resumes_and_its_checkpoints_reach_the_window_replicas()
    {
        var latents = Latents();
        using (var uninterrupted = UtProcess.Silo(TrainerConfig("a.json", P("a"), latents)))
        {
            Assert.Equal(0, uninterrupted.WaitForExit(240));
            Assert.Contains("silo: trainer finished", uninterrupted.Output);
        }

        using var window = WindowSilo(Config("window.json", new { Roles = new[] { "window" }, Broker = new { Uri = broker.Uri } }));
        var config = TrainerConfig("b.json", P("b"), latents, new { Uri = broker.Uri });
        using (var first = UtProcess.Silo(config))
        {
            first.WaitFor("silo: trainer checkpoint step 30");
            first.Kill();
            Assert.DoesNotContain("trainer finished", first.Output);
        }
        // The announcement reached the replica, which swaps the weights in before its next batch.
        Assert.Contains(Path.Combine(P("b"), "absorbing_ema_30.th"), window.WaitFor("window replicas reloading"));
        using (var second = UtProcess.Silo(config))
        {
            Assert.Equal(0, second.WaitForExit(240));
            Assert.Contains("resuming from step", second.Output);
        }
        Assert.Equal(File.ReadAllText(P("a/train_log.jsonl")), File.ReadAllText(P("b/train_log.jsonl")));
        Assert.Equal(File.ReadAllBytes(P("a/absorbing_ema_600.th")), File.ReadAllBytes(P("b/absorbing_ema_600.th")));

        // The replica now holds the trained weights: a canvas still on the bundled prior is refused, clearly.
        Assert.Contains("window replica holds model", Ut.Fails("generate", "--shape", "16x16", "--out", P("x.png"), "--grid", broker.Uri));
        Assert.False(File.Exists(P("x.png")));
    }
}
