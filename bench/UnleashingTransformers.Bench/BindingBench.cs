using System.Diagnostics;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Bench;

/// <summary>The reference prior's transformer block, written as torch_reference.py writes it.</summary>
internal sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    private readonly nn.LayerNorm _ln1, _ln2;
    private readonly nn.Linear _key, _query, _value, _proj, _fc1, _fc2;

    public Block(int d = 512, int heads = 8)
    {
        _heads = heads;
        _ln1 = register_module("ln1", new nn.LayerNorm(d));
        _ln2 = register_module("ln2", new nn.LayerNorm(d));
        _key = register_module("key", new nn.Linear(d, d));
        _query = register_module("query", new nn.Linear(d, d));
        _value = register_module("value", new nn.Linear(d, d));
        _proj = register_module("proj", new nn.Linear(d, d));
        _fc1 = register_module("fc1", new nn.Linear(d, 4 * d));
        _fc2 = register_module("fc2", new nn.Linear(4 * d, d));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var hs = C / _heads;
        var h = _ln1.forward(x);
        var k = _key.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var q = _query.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var v = _value.forward(h).view(B, T, _heads, hs).transpose(1, 2);
        var att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(hs));
        att = att.softmax(-1);
        var y = att.matmul(v).transpose(1, 2).contiguous().view(B, T, C);
        x = x + _proj.forward(y);
        return (x + _fc2.forward(nn.functional.gelu(_fc1.forward(_ln2.forward(x))))).MoveToOuterDisposeScope();
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

    public static Dictionary<string, double>? RunPyTorch(int threads, int reps) =>
        Python.RunJson("torch_reference.py", threads.ToString(), reps.ToString());

    public static int Report(int threads, int reps, int rounds)
    {
        torch.set_num_threads(threads);
        Console.WriteLine($"libtorch {torch.version}, {threads} thread(s), {reps} reps, best of {rounds} rounds (median per round)");
        Dictionary<string, double>? ours = null, theirs = null;
        for (var round = 0; round < rounds; round++)
        {
            ours = Min(ours, RunOurs(reps));
            theirs = Min(theirs, RunPyTorch(threads, reps));
        }
        var rows = new (string key, string label, Func<double, string> fmt)[]
        {
            ("gemm512", "GEMM 512x512 fp32", ms => $"{2.0 * 512 * 512 * 512 / (ms * 1e6):F1} GFLOP/s"),
            ("gemm1024", "GEMM 1024x1024 fp32", ms => $"{2.0 * 1024 * 1024 * 1024 / (ms * 1e6):F1} GFLOP/s"),
            ("gemm2048", "GEMM 2048x2048 fp32", ms => $"{2.0 * 2048 * 2048 * 2048 / (ms * 1e6):F1} GFLOP/s"),
            ("block_b1", "transformer block, batch 1 (512 wide, 8 heads, 256 tokens)", ms => $"{ms:F2} ms"),
            ("block_b8", "transformer block, batch 8", ms => $"{ms:F2} ms"),
            ("small_add", "1000 x add of 2x2 tensors (per-call overhead)", ms => $"{ms:F2} us/op"), // ms per 1000 calls = us per call
        };
        Console.WriteLine();
        Console.WriteLine("| benchmark | this binding (C#) | PyTorch 1.13 (Python) | time ratio C#/PyTorch |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (key, label, fmt) in rows)
        {
            var o = ours![key];
            var p = theirs?.GetValueOrDefault(key);
            Console.WriteLine($"| {label} | {fmt(o)} | {(p is { } pv ? fmt(pv) : "n/a")} | {(p is { } pr ? $"{o / pr:F2}" : "n/a")} |");
        }
        return 0;
    }

    private static Dictionary<string, double>? Min(Dictionary<string, double>? a, Dictionary<string, double>? b) =>
        a is null ? b : b is null ? a : a.ToDictionary(kv => kv.Key, kv => Math.Min(kv.Value, b.GetValueOrDefault(kv.Key, kv.Value)));
}
