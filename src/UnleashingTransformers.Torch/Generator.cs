using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

/// <summary>A libtorch random generator (torch.Generator). Its state can be saved for exact resume.</summary>
public sealed class Generator : IDisposable
{
    internal IntPtr Handle { get; private set; }

    private Generator(IntPtr handle) => Handle = handle;

    /// <summary>A new CPU generator with its own stream.</summary>
    public Generator(ulong seed = 67280421310721UL)
    {
        Native.Check(Native.ut_generator_new(0, seed, out var h));
        Handle = h;
    }

    /// <summary>The process-wide default generator of a device (what manual_seed seeds).</summary>
    public static Generator Default(Device device)
    {
        Native.Check(Native.ut_generator_default((int)device.Type, device.Index < 0 ? 0 : device.Index, out var h));
        return new Generator(h);
    }

    public Generator manual_seed(ulong seed)
    {
        Native.Check(Native.ut_generator_seed(Handle, seed));
        return this;
    }

    public ulong initial_seed() => Native.ut_generator_initial_seed(Handle);

    /// <summary>The full state, a uint8 tensor (as torch.Generator.get_state()).</summary>
    public Tensor get_state()
    {
        Native.Check(Native.ut_generator_get_state(Handle, out var t));
        return new Tensor(t);
    }

    public void set_state(Tensor state) => Native.Check(Native.ut_generator_set_state(Handle, state.Handle));

    public void Dispose()
    {
        if (Handle != IntPtr.Zero) Native.ut_generator_free(Handle);
        Handle = IntPtr.Zero;
        GC.SuppressFinalize(this);
    }

    ~Generator()
    {
        if (Handle != IntPtr.Zero) Native.ut_generator_free(Handle);
    }
}
