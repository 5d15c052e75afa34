using UnleashingTransformers.Bench;
using UnleashingTransformers.Torch;

// Binding benchmark: the same computations through this binding and through Debian's PyTorch, on the
// same libtorch and thread count, alternating so both see the same machine state. Medians.
var threads = torch.get_num_threads(); // libtorch's default unless --threads
var reps = 30;
var rounds = 2;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out var t) && t > 0: threads = t; i++; break;
        case "--reps" when i + 1 < args.Length && int.TryParse(args[i + 1], out var r) && r > 0: reps = r; i++; break;
        case "--rounds" when i + 1 < args.Length && int.TryParse(args[i + 1], out var n) && n > 0: rounds = n; i++; break;
        default:
            Console.Error.WriteLine($"bench: unknown argument '{args[i]}'; usage: [--threads N] [--reps N] [--rounds N]");
            return 1;
    }
}
torch.set_num_threads(threads);
Console.WriteLine($"libtorch {torch.version}, {threads} thread(s), {reps} reps, best of {rounds} rounds (median per round)");

Dictionary<string, double>? ours = null, theirs = null;
for (var round = 0; round < rounds; round++)
{
    ours = Min(ours, BindingBench.RunOurs(reps));
    theirs = Min(theirs, BindingBench.RunPyTorch(threads, reps));
}

static Dictionary<string, double>? Min(Dictionary<string, double>? a, Dictionary<string, double>? b) =>
    a is null ? b : b is null ? a : a.ToDictionary(kv => kv.Key, kv => Math.Min(kv.Value, b.GetValueOrDefault(kv.Key, kv.Value)));

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
