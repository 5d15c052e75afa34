using System.Diagnostics;
using System.Text.Json;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>The reference prior's transformer block, written as torch_reference.py writes it.</summary>
internal sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    private readonly nn.LayerNorm ln1, ln2;
    private readonly nn.Linear key, query, value, proj, fc1, fc2;

    public Block(int d = 512, int heads = 8)
    {
        _heads = heads;
        ln1 = register_module("ln1", new nn.LayerNorm(d));
        ln2 = register_module("ln2", new nn.LayerNorm(d));
        key = register_module("key", new nn.Linear(d, d));
        query = register_module("query", new nn.Linear(d, d));
        value = register_module("value", new nn.Linear(d, d));
        proj = register_module("proj", new nn.Linear(d, d));
        fc1 = register_module("fc1", new nn.Linear(d, 4 * d));
        fc2 = register_module("fc2", new nn.Linear(4 * d, d));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var hs = C / _heads;
        var h = ln1.forward(x);
        var k = key.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var q = query.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var v = value.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(hs));
        att = att.softmax(-1);
        var y = att.matmul(v).transpose(1, 2).contiguous().view(B, T, C);
        x = x + proj.forward(y);
        return (x + fc2.forward(nn.functional.gelu(fc1.forward(ln2.forward(x))))).MoveToOuterDisposeScope();
    }
}

internal static class BindingBench
{
    private static double MedianMs(Action fn, int reps)
    {
        fn(); fn();
        var times = new double[reps];
        for (var i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            fn();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return reps % 2 == 1 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
    }

    public static Dictionary<string, double> RunOurs(int reps)
    {
        var r = new Dictionary<string, double>();
        using var noGrad = no_grad();
        manual_seed(0);
        foreach (var n in new[] { 512, 1024, 2048 })
        {
            using var scope = NewDisposeScope();
            var a = randn(n, n);
            var b = randn(n, n);
            r[$"gemm{n}"] = MedianMs(() => { using var s = NewDisposeScope(); a.matmul(b); }, Math.Max(3, reps / (n / 512 * (n / 512))));
        }
        using var block = new Block();
        foreach (var batch in new[] { 1, 8 })
        {
            using var scope = NewDisposeScope();
            var x = randn(batch, 256, 512);
            r[$"block_b{batch}"] = MedianMs(() => block.forward(x).Dispose(), Math.Max(3, reps / batch));
        }
        {
            using var scope = NewDisposeScope();
            var s1 = ones(2, 2);
            var s2 = ones(2, 2);
            r["small_add"] = MedianMs(() =>
            {
                using var s = NewDisposeScope();
                for (var i = 0; i < 1000; i++) (s1 + s2).Dispose();
            }, reps);
        }
        return r;
    }

    public static Dictionary<string, double>? RunPyTorch(int threads, int reps)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "torch_reference.py");
        try
        {
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(threads.ToString());
            psi.ArgumentList.Add(reps.ToString());
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEnd();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"bench: PyTorch reference failed: {stderr.Trim()}");
                return null;
            }
            return JsonSerializer.Deserialize<Dictionary<string, double>>(stdout.Trim().Split('\n')[^1]);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine("bench: /usr/bin/python3 not found; install python3-torch (deploy/bootstrap.sh) for the PyTorch column");
            return null;
        }
    }
}
