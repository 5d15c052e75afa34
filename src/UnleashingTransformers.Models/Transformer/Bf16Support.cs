using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.Transformer;

/// <summary>
/// Whether this CPU multiplies bfloat16 in hardware (avx512_bf16, or AMX's amx_bf16). Without it oneDNN
/// emulates bfloat16 products, 12-60x slower than float32 (measured on an AVX2-only EPYC): worth a warning.
/// </summary>
public static class Bf16Support
{
    private static readonly Lazy<bool> OnThisCpu = new(() =>
        !File.Exists("/proc/cpuinfo") || FromCpuInfo(File.ReadAllText("/proc/cpuinfo")));

    /// <summary>Whether this machine's CPU multiplies bfloat16 in hardware (unknown CPUs: assumed so).</summary>
    public static bool Here => OnThisCpu.Value;

    /// <summary>True when a <c>flags</c> line of /proc/cpuinfo names a bfloat16 instruction set.</summary>
    public static bool FromCpuInfo(string cpuinfo) =>
        cpuinfo.Split('\n').Where(l => l.StartsWith("flags", StringComparison.Ordinal))
            .Any(l => l.Split(' ', '\t').Any(f => f is "avx512_bf16" or "amx_bf16"));

    /// <summary>The line to tell a user who asked for bfloat16 on a CPU that emulates it; null otherwise
    /// (float32, a GPU, or a CPU with bfloat16 instructions; unknown CPUs are given the benefit of the doubt).</summary>
    public static string? Warning(InferencePrecision precision, Device device) =>
        precision == InferencePrecision.BFloat16 && device.Type == DeviceType.CPU && !OnThisCpu.Value
            ? "warning: this CPU has no bfloat16 instructions (avx512_bf16 or amx_bf16): BFloat16 products are emulated, " +
              "12-60x slower than Float32 here; use Float32 precision"
            : null;
}
