using System.Diagnostics;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>VQ-GAN encode/decode throughput at the reference size, side by side with Debian's PyTorch
/// running the same network on the same weights; peak memory of decoding a 64x64-token grid.</summary>
internal static class VqGanBench
{
    public static int Run(int threads, int batch, int reps)
    {
        set_num_threads(threads);
        var dir = Directory.CreateTempSubdirectory("ut-bench-vqgan-").FullName;
        try
        {
            var ckpt = Path.Combine(dir, "vqgan_bench.th");
            Console.WriteLine($"vqgan: reference autoencoder (256 px, 16x16 tokens, codebook 1024), {threads} thread(s), batch {batch}, {reps} rep(s)");
            var reference = Python.RunJson("vqgan_reference.py", ckpt, threads.ToString(), batch.ToString(), reps.ToString());
            if (reference is null) return 1;
            using var ae = VqGanCheckpoint.Load(ckpt);
            using var scope = NewDisposeScope();
            var x = rand(batch, 3, 256, 256);
            var ids = randint(0, 1024, new long[] { batch, 16, 16 });
            double Ips(Func<Tensor> fn)
            {
                fn().Dispose();
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < reps; i++) fn().Dispose();
                return batch * reps / sw.Elapsed.TotalSeconds;
            }
            var enc = Ips(() => ae.encode(x));
            var dec = Ips(() => ae.decode(ids));
            // The 64x64 grid in a fresh process, so its peak is its own.
            var mem = MeasureDecode64(ckpt, threads);

            Console.WriteLine();
            Console.WriteLine("| images/s at 256 px | this project | PyTorch 1.13 | ratio |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| encode (encoder + nearest code) | {enc:F2} | {reference["encode_ips"]:F2} | {enc / reference["encode_ips"]:F2} |");
            Console.WriteLine($"| decode (embedding + generator) | {dec:F2} | {reference["decode_ips"]:F2} | {dec / reference["decode_ips"]:F2} |");
            Console.WriteLine();
            Console.WriteLine("| decode one 64x64-token grid (1024x1024 px) | this project | PyTorch 1.13 |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| time | {mem.ms / 1000:F1} s | {reference["decode64_ms"] / 1000:F1} s |");
            Console.WriteLine($"| peak resident memory (process) | {mem.peakMb:F0} MB | {reference["decode64_peak_mb"]:F0} MB |");
            Console.WriteLine($"| of which before decoding (runtime + weights) | {mem.baseMb:F0} MB | {reference["decode64_base_mb"]:F0} MB |");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static (double ms, double peakMb, double baseMb) MeasureDecode64(string ckpt, int threads)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "UnleashingTransformers.Bench.dll"), "vqgan-decode64", ckpt, threads.ToString() })
            psi.ArgumentList.Add(a);
        if (!Environment.ProcessPath!.EndsWith("dotnet")) psi.ArgumentList.RemoveAt(0);
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1].Split(' ');
        p.WaitForExit();
        return (double.Parse(line[0]), double.Parse(line[1]), double.Parse(line[2]));
    }

    /// <summary>Child process: decode one 64x64 grid; print "ms peakMB baseMB".</summary>
    public static int Decode64(string ckpt, int threads)
    {
        set_num_threads(threads);
        using var ae = VqGanCheckpoint.Load(ckpt);
        static double PeakMb()
        {
            foreach (var l in File.ReadLines("/proc/self/status"))
                if (l.StartsWith("VmHWM:")) return double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
            return 0;
        }
        var baseMb = PeakMb();
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        ae.decode(randint(0, 1024, new long[] { 1, 64, 64 }));
        Console.WriteLine($"{sw.Elapsed.TotalMilliseconds:F0} {PeakMb():F0} {baseMb:F0}");
        return 0;
    }
}
