using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

/// <summary>
/// A c10d process group over Gloo, as <c>torch.distributed.init_process_group("gloo", ...)</c> makes one: this
/// process is rank <see cref="Rank"/> of <see cref="World"/>, all meeting at the TCP store on host:port that rank 0
/// serves. Collectives are called by every rank in the same order with tensors of the same shapes.
/// </summary>
public sealed unsafe class ProcessGroup : IDisposable
{
    private IntPtr _handle;

    private ProcessGroup(IntPtr handle, int rank, int world) => (_handle, Rank, World) = (handle, rank, world);

    public int Rank { get; }
    public int World { get; }

    /// <summary>Joins the group, waiting up to <paramref name="timeout"/> for the other ranks, and as long for each
    /// collective (then TorchException). Gloo connects the ranks out of the network interface <c>GLOO_SOCKET_IFNAME</c>
    /// names, as torch.distributed does; else, for a store on loopback, out of loopback (ranks on one machine); else out
    /// of the address of the machine's hostname (a pod's, for one).</summary>
    public static ProcessGroup Gloo(string host, int port, int rank, int world, TimeSpan timeout)
    {
        var iface = Environment.GetEnvironmentVariable("GLOO_SOCKET_IFNAME");
        var loopback = host == "localhost" || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip));
        Native.Check(Native.ut_group_create(host, port, rank, world, (int)timeout.TotalMilliseconds,
            string.IsNullOrEmpty(iface) ? null : iface, loopback ? host : null, out var handle));
        return new ProcessGroup(handle, rank, world);
    }

    /// <summary>Sums <paramref name="tensors"/> over the ranks, in place (<c>dist.all_reduce(t, SUM)</c> on each).</summary>
    public void AllReduceSum(IReadOnlyList<Tensor> tensors)
    {
        ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
        var handles = stackalloc IntPtr[tensors.Count];
        for (var i = 0; i < tensors.Count; i++) handles[i] = tensors[i].Handle;
        Native.Check(Native.ut_group_allreduce_sum(_handle, handles, tensors.Count));
        GC.KeepAlive(tensors);
    }

    /// <summary>Returns once every rank has called it.</summary>
    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
        Native.Check(Native.ut_group_barrier(_handle));
    }

    public void Dispose()
    {
        if (_handle == IntPtr.Zero) return;
        Native.ut_group_free(_handle);
        _handle = IntPtr.Zero;
    }
}
