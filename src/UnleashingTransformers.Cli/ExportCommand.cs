using System.CommandLine;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut export</c>: a smaller copy of a checkpoint for shipping (kept keys, fp16 storage).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--in") { Required = true, Description = "checkpoint (state dict)" };
        var output = new Option<string>("--out") { Required = true };
        var keep = new Option<string?>("--keep") { Description = "comma-separated key prefixes to keep (e.g. ae. to drop disc.*)" };
        var half = new Option<bool>("--half") { Description = "store floating-point tensors as float16 (loading converts back)" };
        var cmd = new Command("export", "Copy a checkpoint keeping some keys, optionally in float16") { input, output, keep, half };
        cmd.SetAction(r =>
        {
            CommonOptions.RequireFile(r.GetValue(input), "--in");
            using var scope = torch.NewDisposeScope();
            var sd = torch.load_state_dict(r.GetValue(input)!);
            var prefixes = r.GetValue(keep)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var result = new OrderedDictionary<string, Tensor>();
            foreach (var (k, v) in sd)
                if (prefixes is null || prefixes.Any(k.StartsWith))
                    result[k] = r.GetValue(half) && v.dtype.IsFloatingPoint() ? v.half() : v;
            if (result.Count == 0) throw new ArgumentException($"--keep {r.GetValue(keep)}: no key of {r.GetValue(input)} starts with it");
            torch.save(result, r.GetValue(output)!);
            Console.WriteLine($"export: {result.Count} of {sd.Count} tensors -> {r.GetValue(output)} ({new FileInfo(r.GetValue(output)!).Length / 1e6:F1} MB)");
            return 0;
        });
        return cmd;
    }
}
