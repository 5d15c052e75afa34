using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// Several models on one cluster of real silos: a job names its model and gets that model's embedded bytes; a window
/// silo whose memory budget holds one model at a time unloads the least recently used and loads it again on demand,
/// with the same bytes; <c>GET /models</c> says what is served and loaded where; an unknown model is a 400 naming
/// the known ones.
/// </summary>
public sealed class ModelServingTests : GridTest
{
    [Fact]
    public async Task TwoModelsOnOneClusterEachGiveTheirEmbeddedBytesUnderABudgetForOne()
    {
        // A second model: a few training steps of a smaller prior on the bundled VQ-GAN's codes.
        using (NewDisposeScope()) save(randint(0, 256, new long[] { 32, 64 }, null, int64), P("latents.pt"));
        Ut.Ok("train-prior", "--latents", P("latents.pt"), "--grid", "8x8", "--codebook-size", "256", "--emb", "32", "--heads", "2", "--layers", "1",
            "--steps", "4", "--checkpoint-every", "4", "--out", P("sketch"));
        var sketch = P("sketch/absorbing_ema_4.th");
        var both = Config("models.json", new
        {
            Roles = new[] { "window", "canvas" },
            Models = new[] { new { Name = "terrain", Prior, VqGan }, new { Name = "sketch", Prior = sketch, VqGan } },
        });
        var terrainImage = Embedded("16x16", 5, "--steps", "16");
        var sketchImage = Embedded("16x16", 5, "--model", "sketch", "--models", both, "--steps", "16");
        Assert.NotEqual(terrainImage, sketchImage);
        Assert.Equal(sketchImage, Embedded("16x16", 5, "--prior", sketch, "--steps", "16"));

        // Each model alone fits the window silo's 10 MB (a prior and the 5.9 MB VQ-GAN), not both.
        string[] second = ["Models:1:Name=sketch", $"Models:1:Prior={sketch}", $"Models:1:VqGan={VqGan}"];
        using var redis = new RedisServer();
        using var window = WindowSilo(redis, [.. second, "Window:MemoryBudgetMb=10"]);
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port, second);
        var http = await ReadyGateway(port);

        var models = await ModelList(http);
        Assert.Equal(["terrain", "sketch"], models.Select(m => m.GetProperty("name").GetString()));
        Assert.True(models[0].GetProperty("default").GetBoolean());
        Assert.False(models[1].GetProperty("default").GetBoolean());
        Assert.Equal(ModelVersion.OfFile(sketch), models[1].GetProperty("version").GetString());
        Assert.Empty(models[1].GetProperty("loaded").EnumerateArray());

        async Task<byte[]> Run(string? model)
        {
            var id = await Submit(http, model is null ? new { height = 16, width = 16, steps = 16, seed = 5 } : new { height = 16, width = 16, steps = 16, seed = 5, model });
            await WaitForState(http, id, "done", 120);
            return await http.GetByteArrayAsync($"jobs/{id}/image");
        }
        Assert.Equal(terrainImage, await Run(null));
        Assert.Equal(sketchImage, await Run("sketch"));
        Assert.Equal((1, 1), await ModelChurn(window, "terrain"));   // loaded for the first job, unloaded for sketch
        models = await ModelList(http);
        Assert.Empty(models[0].GetProperty("loaded").EnumerateArray());
        Assert.Equal(ModelVersion.OfFile(sketch), models[1].GetProperty("loaded")[0].GetProperty("version").GetString());
        // Asked for again, terrain is loaded again (sketch goes) and makes the same bytes.
        Assert.Equal(terrainImage, await Run("terrain"));
        Assert.Equal((2, 1), await ModelChurn(window, "terrain"));
        Assert.Equal((1, 1), await ModelChurn(window, "sketch"));

        // A model nobody serves: 400 naming those that are.
        var unknown = await http.PostAsJsonAsync("jobs", new { height = 16, width = 16, model = "portraits" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("model 'portraits': the grid serves terrain, sketch", JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        Assert.Contains("the grid serves terrain, sketch", Ut.Fails("submit", "--gateway", $"http://127.0.0.1:{port}", "--model", "portraits", "--shape", "16x16", "--out", P("x.png")));
        Assert.False(File.Exists(P("x.png")));
    }

    private static async Task<JsonElement[]> ModelList(HttpClient http) =>
        [.. JsonDocument.Parse(await http.GetStringAsync("models")).RootElement.GetProperty("models").EnumerateArray()];
}
