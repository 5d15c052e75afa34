namespace UnleashingTransformers.Cli;

/// <summary>What the machine can give a command before it is killed for memory.</summary>
internal static class MachineMemory
{
    /// <summary>MemAvailable of /proc/meminfo (what the kernel can hand out without swapping), else what the
    /// runtime says it may use.</summary>
    public static long AvailableBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kib)) return kib * 1024;
        }
        catch (IOException)
        {
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    public static string Describe(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):N1} GiB" : $"{bytes / (double)(1L << 20):N0} MiB";
}
