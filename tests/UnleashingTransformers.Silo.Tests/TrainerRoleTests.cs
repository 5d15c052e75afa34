using System.Text.Json;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>The trainer grain: killed, its run resumes from the last checkpoint as if never interrupted; each prior
/// checkpoint is published as a new version of a named model, which jobs submitted from then on are generated with
/// (the window silo loading it on their first request), byte for byte as <c>ut generate</c> makes them with that file.</summary>
public sealed class TrainerRoleTests : GridTest
{
    private string Latents()
    {
        using var scope = NewDisposeScope();
        var path = P("latents.pt");
        using var g = new Torch.Generator(5);
        // Codes of the bundled VQ-GAN's book (256), so the trained prior's canvases decode.
        save(randint(0, 256, [96, 16], generator: g), path);
        return path;
    }

    private string TrainerConfig(string name, string outDir, string latents) => Config(name, new
    {
        Roles = new[] { "trainer" },
        Trainer = new
        {
            Kind = "prior",
            Prior = new
            {
                Latents = latents, OutDir = outDir, CodebookSize = 256, Emb = 64, Heads = 4, Layers = 2, Timesteps = 16, Batch = 16, Lr = 1e-3, Warmup = 10, Steps = 600,
                CheckpointEvery = 30, LogEvery = 10, EvalEvery = 0
            },
            PublishAs = "terrain",
        },
    });

    [Fact]
    public async Task AKilledTrainerResumesAndItsCheckpointsArePublishedAsTheModelsNewVersion()
    {
        var latents = Latents();
        using (var uninterrupted = UtProcess.Silo(TrainerConfig("a.json", P("a"), latents)))
        {
            Assert.Equal(0, uninterrupted.WaitForExit(240));
            Assert.True(File.Exists(P("a/absorbing_ema_600.th")), uninterrupted.Output);
        }

        using var redis = new RedisServer();
        using var window = WindowSilo(redis);
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port);
        var http = await ReadyGateway(port);
        // Before any checkpoint: the bundled terrain prior.
        Assert.Equal(ModelVersion.OfFile(Prior), (await Terrain(http)).GetProperty("version").GetString());
        var config = TrainerConfig("b.json", P("b"), latents);
        using (var first = UtProcess.Silo(config, Cluster(redis)))
        {
            // killed once the first checkpoint is the model's current version, as the gateway tells it
            var checkpoint = P("b/absorbing_ema_30.th");
            var deadline = DateTime.UtcNow.AddSeconds(240);
            while (!(File.Exists(checkpoint) && (await Terrain(http)).GetProperty("version").GetString() == ModelVersion.OfFile(checkpoint)))
            {
                Assert.True(DateTime.UtcNow < deadline && !first.Exited, $"{checkpoint} was not published:\n{first.Output}");
                await Task.Delay(100);
            }
            first.Kill();
            Assert.False(File.Exists(P("b/absorbing_ema_600.th")));
        }
        using (var second = UtProcess.Silo(config, Cluster(redis)))
        {
            Assert.Equal(0, second.WaitForExit(240));
            Assert.Contains("resuming from step", second.Output);   // and not from 0, which would write the same files
        }
        Assert.Equal(File.ReadAllText(P("a/train_log.jsonl")), File.ReadAllText(P("b/train_log.jsonl")));
        Assert.Equal(File.ReadAllBytes(P("a/absorbing_ema_600.th")), File.ReadAllBytes(P("b/absorbing_ema_600.th")));

        // The model's current version is the last checkpoint's: a job submitted now is generated with it, as ut generate
        // makes it with that file. The window silo loaded the new version on the job's first request.
        var trained = P("b/absorbing_ema_600.th");
        var terrain = await Terrain(http);
        Assert.Equal(ModelVersion.OfFile(trained), terrain.GetProperty("version").GetString());
        Assert.True(terrain.GetProperty("published").GetBoolean());
        var expected = Embedded("12x16", 3, "--prior", trained, "--steps", "12");
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--model", "terrain", "--shape", "12x16", "--steps", "12", "--seed", "3", "--out", P("trained.png"));
        Assert.Equal(expected, File.ReadAllBytes(P("trained.png")));
        Assert.Contains(ModelVersion.OfFile(trained), (await Terrain(http)).GetProperty("loaded").ToString());
    }

    private static async Task<JsonElement> Terrain(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("models")).RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "terrain");
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
