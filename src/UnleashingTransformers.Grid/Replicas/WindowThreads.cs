using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// The thread setting under which window passes keep the determinism contract. OpenBLAS picks its kernels and splits
/// by its own thread count, and on some CPUs the bits follow: on an AMD EPYC (Zen kernels) a 256x256-token canvas came
/// out other bytes with 2 BLAS threads than with 1, which flipped draws (measured 2026-12-07; libtorch's own thread
/// count made no difference). So every process that computes window passes on the CPU runs BLAS on one thread, and the
/// same seed gives the same bytes whatever <c>--threads</c>, silo.json's <c>Threads</c> or the machine's cores say;
/// more cores are used by more replicas (a thread each). The decode is pinned the same way (<c>with_single_thread</c>).
/// </summary>
public static class WindowThreads
{
    public static void Pin(Device device)
    {
        if (device.Type == DeviceType.CPU) _ = torch.set_blas_threads(1);   // false where the BLAS has no such control: nothing to pin
    }
}
