using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The trainer grain: killed, its run resumes from the last checkpoint as if never interrupted;
/// each prior checkpoint reaches the cluster's window replicas, which then refuse jobs meant for the old weights.</summary>
public sealed class TrainerRoleTests : GridTest
{
    private string Latents()
    {
        using var scope = NewDisposeScope();
        var path = P("latents.pt");
        using var g = new Torch.Generator(5);
        save(randint(0, 8, [96, 16], generator: g), path);
        return path;
    }

    private string TrainerConfig(string name, string outDir, string latents) => Config(name, new
    {
        Roles = new[] { "trainer" },
        Trainer = new
        {
            Kind = "prior",
            Prior = new { Latents = latents, OutDir = outDir, Emb = 64, Heads = 4, Layers = 2, Timesteps = 16, Batch = 16, Lr = 1e-3, Warmup = 10, Steps = 600, CheckpointEvery = 30, LogEvery = 10, EvalEvery = 0 },
        },
    });

    [Fact]
    public async Task AKilledTrainerResumesAndItsCheckpointsReachTheWindowReplicas()
    {
        var latents = Latents();
        using (var uninterrupted = UtProcess.Silo(TrainerConfig("a.json", P("a"), latents)))
        {
            Assert.Equal(0, uninterrupted.WaitForExit(240));
            Assert.Contains("silo: trainer finished", uninterrupted.Output);
        }

        using var redis = new RedisServer();
        using var window = WindowSilo(redis);
        var config = TrainerConfig("b.json", P("b"), latents);
        using (var first = UtProcess.Silo(config, Cluster(redis)))
        {
            Assert.Contains("to 1 of 1 window replicas", first.WaitFor($"silo: trainer published {Path.Combine(P("b"), "absorbing_ema_30.th")}"));
            first.Kill();
            Assert.DoesNotContain("trainer finished", first.Output);
        }
        // The trainer grain told the replica, which swapped the weights in between batches.
        Assert.Contains(Path.Combine(P("b"), "absorbing_ema_30.th"), window.WaitFor("reloaded"));
        using (var second = UtProcess.Silo(config, Cluster(redis)))
        {
            Assert.Equal(0, second.WaitForExit(240));
            Assert.Contains("resuming from step", second.Output);
        }
        Assert.Equal(File.ReadAllText(P("a/train_log.jsonl")), File.ReadAllText(P("b/train_log.jsonl")));
        Assert.Equal(File.ReadAllBytes(P("a/absorbing_ema_600.th")), File.ReadAllBytes(P("b/absorbing_ema_600.th")));
        window.WaitFor("absorbing_ema_600.th");

        // The replica now holds the trained weights: a job on the bundled prior is refused, naming both versions.
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port);
        await ReadyGateway(port);
        var error = Ut.Fails("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x16", "--out", P("x.png"));
        Assert.Contains("window replica holds model", error);
        Assert.Contains(UnleashingTransformers.Grid.Replicas.ModelVersion.OfFile(Prior), error);
        Assert.Contains(UnleashingTransformers.Grid.Replicas.ModelVersion.OfFile(P("b/absorbing_ema_600.th")), error);
        Assert.False(File.Exists(P("x.png")));
    }
}

/// <summary>The trainer role's other kind: a VQ-GAN configuration in silo.json trains exactly as the
/// same options given to <c>ut train-vqgan</c>.</summary>
public sealed class VqGanTrainerRoleTests : GridTest
{
    [Fact]
    public void AVqganTrainerSiloTrainsAsTrainVqganDoes()
    {
        Ut.Ok("dataset", "terrain", "--out", P("data"), "--count", "24", "--size", "16");
        var config = Config("vq.json", new
        {
            Roles = new[] { "trainer" },
            Trainer = new
            {
                Kind = "vqgan",
                VqGan = new
                {
                    Data = P("data"), OutDir = P("silo"), Steps = 20, CheckpointEvery = 10, PreviewEvery = 0, DiscStart = 15, Batch = 8, Lr = 2e-3, LogEvery = 5,
                    Config = new { Resolution = 16, Nf = 32, ChMult = new[] { 1, 1, 2 }, ResBlocks = 1, AttnResolutions = new[] { 4 }, EmbDim = 32, CodebookSize = 32, Ndf = 16, DiscLayers = 1 },
                },
            },
        });
        using (var silo = UtProcess.Silo(config))
            Assert.Equal(0, silo.WaitForExit(120));
        Ut.Ok("train-vqgan", "--data", P("data"), "--out", P("cli"), "--steps", "20", "--checkpoint-every", "10", "--preview-every", "0", "--disc-start", "15",
            "--batch", "8", "--lr", "2e-3", "--log-every", "5", "--size", "16", "--nf", "32", "--ch-mult", "1,1,2", "--res-blocks", "1", "--attn-resolutions", "4",
            "--emb-dim", "32", "--codebook-size", "32", "--ndf", "16", "--disc-layers", "1", "--threads", "1");
        Assert.Equal(File.ReadAllText(P("cli/train_log.jsonl")), File.ReadAllText(P("silo/train_log.jsonl")));
        Assert.Equal(File.ReadAllBytes(P("cli/vqgan_ema_20.th")), File.ReadAllBytes(P("silo/vqgan_ema_20.th")));
    }
}
