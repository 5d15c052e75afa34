using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What one canvas job costs the canvas silo, so a job it cannot serve is refused up front, naming the
/// limit and the key that sets it: memory (the canvas's tokens and draws, the strip of tiles being
/// blended, the decoded tiles in flight, the saved state's copy) against <c>Canvas:MemoryMb</c> shared by
/// <c>Canvas:MaxJobs</c> jobs; and the state volume's free space against the image's raw pixels, its PNG and
/// its pyramid, all on disk at once while it is written.
/// </summary>
public static class CanvasCapacity
{
    /// <summary>Bytes of canvas silo memory a job of <paramref name="options"/> holds at its peak.</summary>
    public static long MemoryBytes(CanvasOptions options, int downscale)
    {
        var cells = (long)options.Height * options.Width;
        var tiling = new DecodeTiling(options.Height, options.Width, downscale);
        var inFlight = Math.Min(ClusterJobReplicas.MaxBytesInFlight, 16L * tiling.TileFloats * sizeof(float));
        return CanvasCoordinator.Bytes(cells) + 2 * sizeof(long) * cells + TileBlender.PeakBytes(tiling) + inFlight;
    }

    /// <summary>Bytes of the state volume a job's image takes while it is written: raw pixels (3 a pixel), the PNG
    /// (at most about as much) and the DeepZoom pyramid (JPEG tiles, a fraction of it).</summary>
    public static long DiskBytes(CanvasOptions options, int downscale) => 8L * downscale * downscale * options.Height * options.Width;

    /// <summary>The memory jobs of one canvas silo may use: <c>Canvas:MemoryMb</c>, or (0) three quarters of what
    /// the process may use (the container's limit where it has one).</summary>
    public static long Budget(CanvasSettings settings) => settings.MemoryMb > 0
        ? settings.MemoryMb << 20
        : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 * 3;

    /// <summary>Throws ArgumentException naming the limit and its key when the silo cannot serve the job.</summary>
    public static void Check(CanvasOptions options, int downscale, CanvasSettings settings, string imageDirectory)
    {
        var shape = $"shape {options.Height}x{options.Width}";
        var (memory, share) = (MemoryBytes(options, downscale), Budget(settings) / settings.MaxJobs);
        if (memory > share)
            throw new ArgumentException($"{shape} needs about {Describe(memory)} of a canvas silo's memory, more than each of its Canvas:MaxJobs = {settings.MaxJobs} jobs may use " +
                $"({Describe(share)} of Canvas:MemoryMb{(settings.MemoryMb > 0 ? $" = {settings.MemoryMb}" : ", three quarters of the silo's memory")}): ask for a smaller shape, or raise " +
                    $"Canvas:MemoryMb or lower Canvas:MaxJobs");
        var disk = DiskBytes(options, downscale);
        var free = new DriveInfo(Path.GetFullPath(imageDirectory)).AvailableFreeSpace;
        if (disk > free)
            throw new ArgumentException($"{shape} needs about {Describe(disk)} of the state volume for its image (raw pixels, PNG and pyramid), " +
                $"{Describe(free)} is free under {imageDirectory}: free space there (StateDirectory) or ask for a smaller shape");
    }

    public static string Describe(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):N1} GiB" : $"{bytes / (double)(1L << 20):N0} MiB";
}
