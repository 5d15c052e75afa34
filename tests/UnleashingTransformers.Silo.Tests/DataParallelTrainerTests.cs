using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// Data-parallel training across trainer silos (real `ut silo` processes and a redis-server): the run's roster grain
/// makes two silos the ranks of one run; one of them killed with SIGKILL, the other goes on alone from the newest
/// checkpoint and ends with the weights one process trains (the global batch kept, the ranks changed).
/// </summary>
public sealed class DataParallelTrainerTests : GridTest
{
    private const int Steps = 300;

    private string Latents()
    {
        using var scope = NewDisposeScope();
        using var g = new Torch.Generator(5);
        save(randint(0, 256, [96, 16], generator: g), P("latents.pt"));
        return P("latents.pt");
    }

    private string Trainer(string name, string latents) => Config(name, new
    {
        Roles = new[] { "trainer" },
        Trainer = new
        {
            Kind = "prior",
            Prior = new
            {
                Latents = latents, OutDir = P("run"), CodebookSize = 256, Emb = 32, Heads = 4, Layers = 2, Timesteps = 16, Batch = 16, Lr = 1e-3, Warmup = 10,
                Steps, CheckpointEvery = 30, LogEvery = 10, EvalEvery = 0,
            },
            Run = "terrain-prior", MinRanks = 1, MaxRanks = 2, StorePort = Ports.Free(),
        },
    });

    [Fact]
    public async Task TwoTrainerSilosTrainOneRunAndTheSurvivorOfAKillFinishesItAsOneProcessWould()
    {
        var latents = Latents();
        Ut.Ok("train-prior", "--latents", latents, "--out", P("alone"), "--codebook-size", "256", "--emb", "32", "--heads", "4", "--layers", "2", "--timesteps", "16",
            "--batch", "16", "--lr", "1e-3", "--warmup", "10", "--steps", $"{Steps}", "--checkpoint-every", "30", "--log-every", "10", "--threads", "1");

        using var redis = new RedisServer();
        using var a = UtProcess.Silo(Trainer("a.json", latents), Cluster(redis));
        using var b = UtProcess.Silo(Trainer("b.json", latents), Cluster(redis));
        a.WaitFor("of 2 (generation 1", 120);
        b.WaitFor("of 2 (generation 1", 60);
        // Once the pair has written a checkpoint, rank 0 (whose store the other meets at) is killed mid-run.
        var deadline = DateTime.UtcNow.AddSeconds(240);
        while (!File.Exists(P("run/absorbing_train_60.th")) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(File.Exists(P("run/absorbing_train_60.th")), $"no checkpoint:\n{a.Output}\n{b.Output}");
        var (leader, other) = a.Output.Contains("rank 0 of 2") ? (a, b) : (b, a);
        leader.Kill();
        Assert.False(File.Exists(P($"run/absorbing_train_{Steps}.th")), "the run was over before the kill");

        Assert.True(other.WaitForExit(240) == 0, other.Output);
        Assert.True(other.Output.Contains("generation 1 ended"), other.Output);                // its all-reduce failed with the peer gone
        Assert.True(other.Output.Contains("rank 0 of 1 (generation 2"), other.Output);         // and it went on alone
        Assert.True(other.Output.Contains("resuming from step"), other.Output);
        Assert.Equal(File.ReadAllLines(P("alone/train_log.jsonl")).Length, File.ReadAllLines(P("run/train_log.jsonl")).Length);

        // What the weights compute is one process's, to float rounding (sums over 8 + 8 rows, then 16).
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var g = new Torch.Generator(2);
        var rows = load_tensor(latents)[..16];
        var x = where(rand([16, 16], g) < 0.5, randint(0, 256, [16, 16], g), rows);
        using var one = PriorCheckpoint.Load(P($"alone/absorbing_{Steps}.th"));
        using var ranks = PriorCheckpoint.Load(P($"run/absorbing_{Steps}.th"));
        one.eval();
        ranks.eval();
        var apart = (one.forward(x) - ranks.forward(x)).abs().max().item<float>();
        Assert.True(apart < 1e-4, $"the elastic run's logits are {apart} from one process's");
    }
}
