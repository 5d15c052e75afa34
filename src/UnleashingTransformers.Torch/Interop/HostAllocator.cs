using System.Runtime.InteropServices;

namespace UnleashingTransformers.Torch.Interop;

/// <summary>
/// The C library's allocator, which libtorch's CPU tensors come from. glibc raises its mmap threshold
/// each time a large block is freed, until blocks of up to 32 MB are kept in per-thread arenas instead of
/// returned: a long-running process that makes and frees large tensors on many threads (a silo blending
/// image strips) grows by hundreds of MB it no longer uses. A fixed threshold keeps large blocks mapped
/// and unmapped, so freed tensors leave the process.
/// </summary>
public static partial class HostAllocator
{
    private const int MmapThreshold = -3;   // M_MMAP_THRESHOLD (malloc.h)

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);

    /// <summary>Blocks from <paramref name="bytes"/> up come from and go back to the OS; false where the C
    /// library has no such setting (not glibc).</summary>
    public static bool ReturnLargeBlocks(int bytes = 1 << 20)
    {
        try
        {
            return Mallopt(MmapThreshold, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
