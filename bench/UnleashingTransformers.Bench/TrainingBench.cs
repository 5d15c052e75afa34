using System.Diagnostics;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Data-parallel training (docs/training.md): steps per second of `ut train-prior` in one process and as 2 ranks
/// (`--ranks 2`, a thread each) at the same global batch; the all-reduce's time against the gradient's size, beside
/// torch.distributed's over Gloo (bench/allreduce_reference.py); and, on paper, what 8 GPUs with NCCL would spend on
/// the full-size prior's gradients a step.
/// </summary>
internal static class TrainingBench
{
    private static string Ut => Path.Combine(AppContext.BaseDirectory, "ut.dll");

    public static int Run()
    {
        var dir = Directory.CreateTempSubdirectory("ut-bench-training-").FullName;
        try
        {
            StepsPerSecond(dir);
            AllReduce();
            Estimate();
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A mid-size prior (width 256, 8 layers, 16x16 tokens, codebook 1,024) at global batch 16: the seconds a
    /// step from the difference of a 10-step and a 40-step run, so process start and the first steps' warm-up cancel.</summary>
    private static void StepsPerSecond(string dir)
    {
        using (var scope = NewDisposeScope())
        using (var g = new Generator(1))
            save(randint(0, 1024, [512, 256], g), Path.Combine(dir, "latents.pt"));
        double Seconds(int steps, string ranks)
        {
            var outDir = Path.Combine(dir, $"run-{steps}-{ranks}");
            string[] args = ["train-prior", "--latents", Path.Combine(dir, "latents.pt"), "--out", outDir, "--codebook-size", "1024", "--emb", "256", "--heads", "8", "--layers", "8",
                "--batch", "16", "--steps", $"{steps}", "--checkpoint-every", "1000", "--warmup", "10", .. ranks == "1" ? ["--threads", "1"] : (string[])["--ranks", ranks, "--threads", "1"]];
            var sw = Stopwatch.StartNew();
            RunUt(args);
            return sw.Elapsed.TotalSeconds;
        }
        Console.WriteLine("training: prior width 256, 8 layers, 16x16 tokens, codebook 1,024, global batch 16, one thread a rank; seconds a step = (t(40) - t(10)) / 30");
        Console.WriteLine("| ranks | rows a rank | seconds a step | steps/s | speed-up |");
        Console.WriteLine("|---|---|---|---|---|");
        double? one = null;
        foreach (var ranks in new[] { "1", "2" })
        {
            var step = (Seconds(40, ranks) - Seconds(10, ranks)) / 30;
            one ??= step;
            Console.WriteLine($"| {ranks} | {16 / int.Parse(ranks)} | {step:F3} | {1 / step:F2} | {one / step:F2}x |");
        }
    }

    /// <summary>Two ranks on threads of this process, one all-reduce of N floats at a time, against the reference's
    /// two processes.</summary>
    private static void AllReduce()
    {
        int[] sizes = [1 << 14, 1 << 17, 1 << 20, 1 << 22, 1 << 24];
        const int reps = 10;
        var port = Ports.Free();
        var ours = new double[sizes.Length];
        var ranks = Enumerable.Range(0, 2).Select(rank => Task.Factory.StartNew(() =>
        {
            using var group = ProcessGroup.Gloo("127.0.0.1", port, rank, 2, TimeSpan.FromSeconds(60));
            for (var i = 0; i < sizes.Length; i++)
            {
                using var t = ones(sizes[i]);
                group.AllReduceSum([t]);
                var times = new List<double>();
                for (var r = 0; r < reps; r++)
                {
                    group.Barrier();
                    var sw = Stopwatch.StartNew();
                    group.AllReduceSum([t]);
                    times.Add(sw.Elapsed.TotalMilliseconds);
                }
                if (rank == 0) ours[i] = times.Order().ElementAt(reps / 2);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(ranks);
        var reference = Reference(sizes, reps);
        Console.WriteLine();
        Console.WriteLine("all-reduce, 2 ranks over loopback (Gloo), median of 10; reference: torch.distributed.all_reduce, 2 processes");
        Console.WriteLine("| floats | MB | ms (ours) | GB/s (ours) | ms (torch.distributed) |");
        Console.WriteLine("|---|---|---|---|---|");
        for (var i = 0; i < sizes.Length; i++)
        {
            var mb = sizes[i] * 4 / 1e6;
            Console.WriteLine($"| {sizes[i]:N0} | {mb:F2} | {ours[i]:F2} | {mb / ours[i]:F2} | {(reference.TryGetValue(sizes[i], out var r) ? $"{r:F2}" : "n/a")} |");
        }
    }

    private static Dictionary<int, double> Reference(int[] sizes, int reps)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "allreduce_reference.py"), $"{Ports.Free()}", $"{reps}", string.Join(",", sizes) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        p.WaitForExit();
        return lines.Select(l => l.Split(' ')).ToDictionary(f => int.Parse(f[0]), f => double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>On paper: the full-size prior's gradient bytes (its parameters counted here) through a ring all-reduce on
    /// 8 GPUs, against its forward and backward at the reference's batch of 20 a GPU.</summary>
    private static void Estimate()
    {
        using var scope = NewDisposeScope();
        using var prior = new AbsorbingDiffusion(new TransformerConfig(1024, 512, 8, 24, 256));
        var parameters = prior.parameters().Sum(p => p.numel());
        var bytes = parameters * 4.0;
        var flops = 6.0 * parameters * 20 * 256;   // forward + backward, 20 rows of 256 tokens a GPU
        Console.WriteLine();
        Console.WriteLine($"8 GPUs, NCCL ring all-reduce, on paper: the paper's prior (width 512, 24 layers, 256 tokens, codebook 1,024) has {parameters / 1e6:F1} M parameters, " +
            $"{bytes / 1e6:F0} MB of fp32 gradients a step; forward + backward {flops / 1e12:F2} TFLOP a GPU a step (6 x parameters x 20 rows x 256 tokens). " +
            "All-reduce time = bytes x 2(n-1)/n / bus bandwidth (nccl-tests' definition), n = 8");
        Console.WriteLine("| interconnect | bus bandwidth (assumed) | all-reduce ms a step | compute ms a step (assumed dense TFLOPS) | all-reduce share if not overlapped |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, busGBs, tflops) in new[] { ("H100 SXM, NVLink", 450.0, 300.0), ("A100 SXM, NVLink", 230.0, 120.0), ("PCIe 4.0, no NVLink", 20.0, 120.0) })
        {
            var allReduceMs = bytes * 2 * 7 / 8 / (busGBs * 1e9) * 1e3;
            var computeMs = flops / (tflops * 1e12) * 1e3;
            Console.WriteLine($"| {name} | {busGBs:F0} GB/s | {allReduceMs:F2} | {computeMs:F1} ({tflops:F0}) | {allReduceMs / (allReduceMs + computeMs):P0} |");
        }
    }

    private static void RunUt(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Ut }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ut {string.Join(' ', args)} failed: {stderr.Result}");
    }
}
