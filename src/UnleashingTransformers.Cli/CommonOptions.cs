using System.CommandLine;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary>Options shared by the commands that run models.</summary>
internal sealed class CommonOptions
{
    public readonly Option<int> Threads = new("--threads") { Description = "compute threads: libtorch's and OpenBLAS's pools (default: their own choice)" };
    public readonly Option<string> Device = new("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command c)
    {
        c.Options.Add(Threads);
        c.Options.Add(Device);
    }

    /// <summary>Applies the thread count and returns the checked device.</summary>
    public Device Apply(ParseResult r)
    {
        var n = r.GetValue(Threads);
        if (n < 0) throw new ArgumentException("--threads must be positive");
        if (n > 0)
        {
            torch.set_num_threads(n);
            torch.set_blas_threads(n);
        }
        var device = Torch.Device.Parse(r.GetValue(Device)!);
        if (device.Type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ArgumentException($"--device {device}: this libtorch has no CUDA device; build against a CUDA libtorch (README) or use --device cpu");
        return device;
    }

    /// <summary>A prior's head count, for the files that do not record it (the paper's: 8).</summary>
    public static Option<int?> PriorHeads() => new("--heads")
    {
        Description = "attention heads of the prior (default: what the file records; the paper's files record none and have 8)",
    };

    public static void RequireFile(string? path, string flag)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"{flag} is required");
        if (!File.Exists(path)) throw new ArgumentException($"{flag} {path}: file not found");
    }
}
