using System.Diagnostics;
using System.Text.Json;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>
/// Sampling-step cost of the full-size prior: the reference sampler in Debian's PyTorch against this
/// project's sampler on the same weights (saved by PyTorch, loaded through the reference-format loader).
/// </summary>
internal static class PriorBench
{
    public static int Run(int threads, int stepsB1, int stepsB8)
    {
        set_num_threads(threads);
        var dir = Directory.CreateTempSubdirectory("ut-bench-prior-").FullName;
        try
        {
            var ckpt = Path.Combine(dir, "absorbing_bench.th");
            var logitsFile = Path.Combine(dir, "logits.pt");
            Console.WriteLine($"prior: reference size (512 wide, 8 heads, 24 layers, 256 tokens, codebook 1024), {threads} thread(s)");
            Console.WriteLine($"timing the first {stepsB1} steps at batch 1 and {stepsB8} at batch 8 of S = 256 (each step is typical: ~1 token per row)");
            var reference = Python.RunJson("prior_reference.py", ckpt, logitsFile, threads.ToString(), stepsB1.ToString(), stepsB8.ToString());
            if (reference is null) return 1;

            using var model = PriorCheckpoint.Load(ckpt, heads: 8);
            using var scope = NewDisposeScope();
            var saved = (PyDict)load(logitsFile)!;
            var idx = (Tensor)saved["idx"]!;
            var pyLogits = (Tensor)saved["logits"]!;

            using var fp32 = new TransformerInference(model.TransformerBackbone);
            using var bf16 = new TransformerInference(model.TransformerBackbone, InferencePrecision.BFloat16);
            double parity, bfMax, bfMean, argmaxAgree;
            using (no_grad())
            {
                var ours = fp32.Logits(idx);
                parity = (ours - pyLogits).abs().max().item<double>();
                var low = bf16.Logits(idx);
                var err = (low - ours).abs();
                (bfMax, bfMean) = (err.max().item<double>(), err.mean().item<double>());
                argmaxAgree = low.argmax(-1).eq(ours.argmax(-1)).@float().mean().item<double>();
            }

            var forward = new Dictionary<string, double>();
            foreach (var (name, inf) in new[] { ("fp32", fp32), ("bf16", bf16) })
                foreach (var b in new[] { 1, 8 })
                {
                    using var s = NewDisposeScope();
                    var x = randint(0, 1025, new long[] { b, 256 });
                    inf.Logits(x);
                    var times = new List<double>();
                    for (var rep = 0; rep < 3; rep++)
                    {
                        var sw = Stopwatch.StartNew();
                        inf.Logits(x).Dispose();
                        times.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    forward[$"{name}_b{b}"] = times.Order().ElementAt(1);
                }

            // A step's cost depends on how many rows reveal something in it, which is random; so runs
            // span several seeds, and the cost is also projected to the expected share of rows over a
            // whole S = 256 run (from the schedule alone, no network).
            var fraction = ExpectedActiveFraction(256, 256, 2000);
            (double measured, double rowsPerStep, double projected) StepMs(TransformerInference inf, int batch, int steps, int seeds)
            {
                var sampler = new TokenSampler(new TransformerDenoiser(inf, Device.CPU), new ReciprocalRevealSchedule(256), 1.0);
                double ms = 0, rows = 0;
                for (var seed = 0; seed < seeds; seed++)
                {
                    using var cts = new CancellationTokenSource();
                    var sw = Stopwatch.StartNew();
                    try
                    {
                        sampler.Sample(batch, (ulong)seed, batchSize: batch, progress: p =>
                        {
                            if (p.Step < steps) return;
                            rows += p.NetworkRows;
                            cts.Cancel();
                        }, cancel: cts.Token);
                    }
                    catch (OperationCanceledException) { }
                    ms += sw.Elapsed.TotalMilliseconds;
                }
                var total = (double)steps * seeds;
                return (ms / total, rows / total, ms / Math.Max(1, rows) * fraction * batch);
            }
            StepMs(fp32, 1, 2, 1); // warm-up
            var ours32 = (b1: StepMs(fp32, 1, stepsB1, 4), b8: StepMs(fp32, 8, stepsB8, 2));
            var oursBf = (b1: StepMs(bf16, 1, stepsB1, 4), b8: StepMs(bf16, 8, stepsB8, 2));

            Console.WriteLine();
            Console.WriteLine($"parameters {reference["params"]:N0}; logits vs PyTorch (fp32): max |diff| {parity:E2}");
            Console.WriteLine($"bf16 products vs fp32: max |logit diff| {bfMax:F3}, mean {bfMean:F4}, argmax agreement {100 * argmaxAgree:F1}%");
            Console.WriteLine();
            Console.WriteLine($"expected share of rows a step must run over a whole S = 256 run: {fraction:F3} (the reference runs every row every step)");
            Console.WriteLine();
            Console.WriteLine("| ms per sampling step (S = 256) | batch 1: measured (rows/step), projected | batch 8: measured (rows/step), projected | speed-up vs reference, projected (b1 / b8) |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| reference sampler, PyTorch 1.13 | {reference["step_b1"]:F0} (1.00) | {reference["step_b8"]:F0} (8.00) | 1.00 / 1.00 |");
            foreach (var (label, r) in new[] { ("this project, fp32", ours32), ("this project, bf16 products", oursBf) })
                Console.WriteLine($"| {label} | {r.b1.measured:F0} ({r.b1.rowsPerStep:F2}), {r.b1.projected:F0} | {r.b8.measured:F0} ({r.b8.rowsPerStep:F2}), {r.b8.projected:F0} | " +
                    $"{reference["step_b1"] / r.b1.projected:F2} / {reference["step_b8"] / r.b8.projected:F2} |");
            Console.WriteLine();
            Console.WriteLine("| one full network pass (all rows, all positions), ms | batch 1 | batch 8 |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| this project, fp32 | {forward["fp32_b1"]:F0} | {forward["fp32_b8"]:F0} |");
            Console.WriteLine($"| this project, bf16 products | {forward["bf16_b1"]:F0} | {forward["bf16_b8"]:F0} |");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The mean share of sequences that reveal at least one token per step, over whole runs.</summary>
    private static double ExpectedActiveFraction(int steps, int length, int runs)
    {
        var schedule = new ReciprocalRevealSchedule(steps);
        var into = new List<int>();
        long active = 0;
        for (var run = 0; run < runs; run++)
        {
            var masked = new MaskedPositions(length);
            for (var step = 0; step < steps; step++)
            {
                schedule.Candidates(step, masked, 1_000_000UL + (ulong)run, 0, into);
                if (into.Count == 0) continue;
                active++;
                foreach (var p in into) masked.Remove(p);
            }
        }
        return (double)active / ((long)runs * steps);
    }
}

/// <summary>Runs a reference script of bench/ with Debian's python3 and reads its last line as JSON.</summary>
internal static class Python
{
    public static Dictionary<string, double>? RunJson(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"bench: {script} failed: {stderr.Result.Trim()}");
                return null;
            }
            return JsonSerializer.Deserialize<Dictionary<string, double>>(stdout.Trim().Split('\n')[^1]);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine("bench: /usr/bin/python3 not found; install python3-torch (deploy/bootstrap.sh)");
            return null;
        }
    }
}
