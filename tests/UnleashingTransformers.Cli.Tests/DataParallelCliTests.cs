using System.Diagnostics;
using System.Text.Json;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

/// <summary>
/// Data-parallel training with real processes: <c>--ranks N</c> launching N ranks of ut on this machine, Gloo's
/// all-reduce between them over loopback.
/// </summary>
public class DataParallelCliTests : TempDirTest
{
    private static readonly string[] TinyPrior = ["--grid", "8x8", "--codebook-size", "32", "--emb", "32", "--heads", "4", "--timesteps", "16",
        "--lr", "1e-3", "--warmup", "5", "--log-every", "1"];

    /// <summary>Random tokens on an 8x8 grid, codebook 32: nothing to learn fast, so every step moves the weights.</summary>
    private string Latents()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(1);
        save(randint(0, 32, [200, 64], g), P("latents.pt"));
        return P("latents.pt");
    }

    private static double[] Losses(string log, string field) =>
        [.. File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement.GetProperty(field).GetDouble())];

    private static double MaxRelative(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Max(1e-12, Math.Abs(x))).Max();

    /// <summary>The largest difference of two priors' logits on the same rows, half their tokens replaced at random: what the weights compute, which
    /// is what N ranks must agree with one process on. (Weights one by one are no measure: a key bias has no gradient in
    /// exact arithmetic, softmax being blind to it, and Adam turns its rounding noise into steps.)</summary>
    private double LogitsApart(string a, string b)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var g = new Generator(2);
        var rows = load_tensor(P("latents.pt"))[..16];
        var x = where(rand([16, 64], g) < 0.5, randint(0, 32, [16, 64], g), rows);
        using var ma = PriorCheckpoint.Load(a);
        using var mb = PriorCheckpoint.Load(b);
        ma.eval();
        mb.eval();
        return (ma.forward(x) - mb.forward(x)).abs().max().item<float>();
    }

    [Theory]
    [InlineData("transformer", "2")]
    [InlineData("sundae", "1-2-1")]
    public void TwoRanksOfEightRowsTrainWhatOneProcessOfSixteenDoes(string model, string layers)
    {
        var latents = Latents();
        string[] Train(string outDir, params string[] more) =>
            ["train-prior", "--model", model, "--layers", layers, "--latents", latents, "--out", P(outDir), "--steps", "20", "--checkpoint-every", "20", .. TinyPrior, .. more];
        Ut.Ok(Train("one", "--batch", "16", "--threads", "1"));
        Assert.Contains("2 ranks on this machine", Ut.Ok(Train("two", "--batch", "16", "--ranks", "2")));
        Ut.Ok(Train("half", "--batch", "8", "--threads", "1"));   // one rank's rows alone: how far apart a wrong split lands
        var file = model == "sundae" ? "sundae_ema_20.th" : "absorbing_ema_20.th";
        var last = file.Replace("_ema", "");

        // The losses of every step (the global batch's mean, which rank 0 logs) are one process's to float rounding.
        var (one, two, half) = (Losses(P("one/train_log.jsonl"), "Loss"), Losses(P("two/train_log.jsonl"), "Loss"), Losses(P("half/train_log.jsonl"), "Loss"));
        Assert.Equal(20, two.Length);
        Assert.True(MaxRelative(one, two) < 1e-5, $"losses {MaxRelative(one, two)} apart (relative)");
        Assert.True(MaxRelative(one, half) > 1e-2, $"a batch of 8 trains losses only {MaxRelative(one, half)} apart");
        // So are the trained weights, by what they compute: float sums over 8 + 8 rows instead of 16, after 20 Adam steps.
        var apart = LogitsApart(P($"one/{last}"), P($"two/{last}"));
        var wrong = LogitsApart(P($"one/{last}"), P($"half/{last}"));
        Assert.True(apart < 1e-4, $"2 ranks' logits {apart} from one process's");
        Assert.True(wrong > 100 * apart && wrong > 1e-2, $"a batch of 8: logits {wrong} apart, 2 ranks {apart}");
        Assert.True(LogitsApart(P($"one/{file}"), P($"two/{file}")) < 1e-4);
        // Rank 0 alone wrote: one log, one checkpoint set.
        string[] expected = [last, file, last.Replace("_20", "_optim_20"), last.Replace("_20", "_train_20"), "train_log.jsonl"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFiles(P("two")).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ARankKilledMidRunStopsItsRunWhichResumesToTheUninterruptedWeightsOnAsManyRanksOrFewer()
    {
        var latents = Latents();
        string[] Train(string outDir, params string[] more) =>
            ["train-prior", "--latents", latents, "--out", P(outDir), "--layers", "2", "--batch", "16", "--steps", "300", "--checkpoint-every", "50", .. TinyPrior, .. more];
        Ut.Ok(Train("straight", "--ranks", "2"));

        string stderr;
        using (var launcher = Process.Start(Ut.Start(Train("killed", "--ranks", "2")))!)
        {
            var output = launcher.StandardOutput.ReadToEndAsync();
            var errors = launcher.StandardError.ReadToEndAsync();
            var sw = Stopwatch.StartNew();
            while (!File.Exists(P("killed/absorbing_train_100.th")) && !launcher.HasExited && sw.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(10);
            var rank1 = RankProcess(P("killed"), 1);
            Assert.False(launcher.HasExited, "training finished before a rank could be killed");
            rank1.Kill();   // SIGKILL
            Assert.True(launcher.WaitForExit(TimeSpan.FromSeconds(60)), "the launcher did not end its run");
            Assert.Equal(1, launcher.ExitCode);
            stderr = await errors;
            _ = await output;
        }
        Assert.Contains("rank 1 of 2 exited with code 137; the other ranks were stopped", stderr);
        Assert.Null(RankProcessOrNull(P("killed"), 0));   // rank 0 did not outlive its run
        Assert.True(File.ReadAllLines(P("killed/train_log.jsonl")).Length < 300, "the kill came before the end");
        CopyFolder(P("killed"), P("elastic"));

        // Resumed on 2 ranks: the uninterrupted run's weights and log, bit for bit.
        Ut.Ok(Train("killed", "--ranks", "2", "--resume"));
        Assert.Equal(File.ReadAllLines(P("straight/train_log.jsonl")), File.ReadAllLines(P("killed/train_log.jsonl")));
        using var scope = NewDisposeScope();
        var (a, b) = (load_state_dict(P("straight/absorbing_300.th")), load_state_dict(P("killed/absorbing_300.th")));
        foreach (var (k, v) in a) Assert.True(v.equal(b[k]), k);
        // Resumed on one rank (the global batch the same): the same run to float rounding.
        Ut.Ok(Train("elastic", "--resume", "--threads", "1"));
        var apart = LogitsApart(P("straight/absorbing_300.th"), P("elastic/absorbing_300.th"));
        Assert.True(apart < 1e-4, $"resumed on one rank, logits {apart} from the 2-rank run's");
    }

    [Fact]
    public void ARankThatCannotMeetItsStoreAndBadRankFlagsGetOneLine()
    {
        var latents = Latents();
        string[] Train(string outDir, params string[] more) =>
            ["train-prior", "--latents", latents, "--out", P(outDir), "--layers", "2", "--steps", "4", .. TinyPrior, .. more.Contains("--batch") ? more : [.. more, "--batch", "16"]];
        var port = Ports.Free();
        var sw = Stopwatch.StartNew();
        var line = Ut.Fails(Train("lonely", "--rank", "1", "--world", "2", "--store", $"127.0.0.1:{port}", "--store-timeout", "3"));
        Assert.Contains($"rank 1 of 2 could not meet the other ranks at the store 127.0.0.1:{port} within 3 s", line);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"gave up after {sw.Elapsed}");
        Assert.False(Directory.Exists(P("lonely")));
        Assert.Contains("--store 'nowhere' is not HOST:PORT", Ut.Fails(Train("o1", "--rank", "1", "--world", "2", "--store", "nowhere")));
        Assert.Contains("--rank must lie in 0..1", Ut.Fails(Train("o2", "--rank", "2", "--world", "2", "--store", "127.0.0.1:29500")));
        Assert.Contains("--batch 15 is the global batch and must be a multiple of the 2 ranks", Ut.Fails(Train("o3", "--ranks", "2", "--batch", "15")));
        Assert.Contains("--time-sampling importance draws from each process's own loss history", Ut.Fails(Train("o4", "--ranks", "2", "--time-sampling", "Importance")));
        Assert.Contains("--ranks launches a run of its own", Ut.Fails(Train("o5", "--ranks", "2", "--world", "2")));
        foreach (var d in new[] { "o1", "o2", "o3", "o4", "o5" }) Assert.False(Directory.Exists(P(d)), d);
    }

    /// <summary>The process of rank <paramref name="rank"/> of a run writing to <paramref name="outDir"/>.</summary>
    private static Process RankProcess(string outDir, int rank) =>
        RankProcessOrNull(outDir, rank) ?? throw new InvalidOperationException($"no rank {rank} training into {outDir}");

    private static Process? RankProcessOrNull(string outDir, int rank)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string[] args;
            try { args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0'); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            var at = Array.IndexOf(args, "--rank");
            if (args.Contains(outDir) && at >= 0 && at + 1 < args.Length && args[at + 1] == $"{rank}") return Process.GetProcessById(pid);
        }
        return null;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
