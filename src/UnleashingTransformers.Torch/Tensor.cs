using System.Runtime.InteropServices;
using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

/// <summary>
/// A libtorch tensor. The handle is released by <see cref="SafeHandle.Dispose()"/>, by the
/// <see cref="DisposeScope"/> it was created in, or (as a last resort) by the finalizer; GPU memory
/// should never wait for the finalizer, so work inside <c>torch.NewDisposeScope()</c>.
/// The operator methods live in Tensor.Ops.cs.
/// </summary>
public partial class Tensor : SafeHandle
{
    internal DisposeScope? OwningScope;

    internal Tensor(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        DisposeScope.Register(this);
    }

    /// <summary>Takes over the handle of <paramref name="other"/> (which is left disposed).</summary>
    protected Tensor(Tensor other) : base(IntPtr.Zero, ownsHandle: true)
    {
        Native.Check(Native.ut_tensor_alias(other.Handle, out var h));
        SetHandle(h);
        other.Dispose();
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Native.ut_tensor_free(handle);
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) OwningScope?.Forget(this);
        base.Dispose(disposing);
    }

    internal IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    // ---- metadata ----

    private (int dtype, int ndim, int devType, int devIndex, int requiresGrad, int isLeaf, int contiguous) Info()
    {
        Native.Check(Native.ut_tensor_info(Handle, out var dt, out var nd, out var devT, out var devI,
            out var rg, out var leaf, out var contig, out var defined));
        if (defined == 0) throw new TorchException("undefined tensor");
        return (dt, nd, devT, devI, rg, leaf, contig);
    }

    public ScalarType dtype => (ScalarType)Info().dtype;

    public Device device
    {
        get
        {
            var i = Info();
            return new Device((DeviceType)i.devType, i.devIndex);
        }
    }

    public long dim() => Info().ndim;
    public long ndim => dim();

    public unsafe long[] shape
    {
        get
        {
            var n = Info().ndim;
            var sizes = new long[n];
            fixed (long* p = sizes) Native.Check(Native.ut_tensor_shape(Handle, p, null, out _));
            return sizes;
        }
    }

    public long size(int dim)
    {
        var s = shape;
        return s[dim < 0 ? dim + s.Length : dim];
    }

    public unsafe long[] stride()
    {
        var n = Info().ndim;
        var strides = new long[n];
        fixed (long* p = strides) Native.Check(Native.ut_tensor_shape(Handle, null, p, out _));
        return strides;
    }

    public unsafe long storage_offset()
    {
        Native.Check(Native.ut_tensor_shape(Handle, null, null, out var offset));
        return offset;
    }

    public long numel() => Native.ut_tensor_numel(Handle);
    public bool is_contiguous() => Info().contiguous != 0;
    public bool is_leaf => Info().isLeaf != 0;
    public long element_size() => dtype.ElementSize();

    // ---- autograd ----

    public bool requires_grad
    {
        get => Info().requiresGrad != 0;
        set => Native.Check(Native.ut_tensor_set_requires_grad(Handle, value ? 1 : 0));
    }

    public Tensor requires_grad_(bool requiresGrad = true)
    {
        requires_grad = requiresGrad;
        return this;
    }

    /// <summary>The accumulated gradient (a new handle each read), or null.</summary>
    public Tensor? grad
    {
        get
        {
            Native.Check(Native.ut_tensor_grad(Handle, out var g));
            return g == IntPtr.Zero ? null : new Tensor(g);
        }
        set => Native.Check(Native.ut_tensor_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
    }

    public void backward(Tensor? gradient = null, bool retain_graph = false, bool create_graph = false)
    {
        Native.Check(Native.ut_backward(Handle, gradient?.Handle ?? IntPtr.Zero, retain_graph ? 1 : 0, create_graph ? 1 : 0));
        GC.KeepAlive(gradient);
    }

    /// <summary>Replaces this tensor's data in place of identity (PyTorch's <c>t.data = x</c>).</summary>
    public void set_data(Tensor data) => Native.Check(Native.ut_tensor_set_data(Handle, data.Handle));

    /// <summary>A second handle to the same tensor (same storage, same autograd identity).</summary>
    public Tensor alias()
    {
        Native.Check(Native.ut_tensor_alias(Handle, out var h));
        return new Tensor(h);
    }

    // ---- data ----

    /// <summary>
    /// The elements of a contiguous CPU tensor, in place (no copy). The span is valid while the
    /// tensor lives and is not resized.
    /// </summary>
    public unsafe Span<T> data<T>() where T : unmanaged
    {
        CheckElementType<T>();
        var i = Info();
        if (i.devType != (int)DeviceType.CPU || i.contiguous == 0)
            throw new TorchException("data<T>() needs a contiguous CPU tensor: call .cpu().contiguous() first");
        return new Span<T>((void*)Native.ut_tensor_data_ptr(Handle), checked((int)numel()));
    }

    /// <summary>The raw element bytes of a contiguous CPU tensor, in place.</summary>
    internal unsafe Span<byte> Bytes()
    {
        var i = Info();
        if (i.devType != (int)DeviceType.CPU || i.contiguous == 0) throw new TorchException("raw bytes need a contiguous CPU tensor");
        var n = checked((int)(numel() * ((ScalarType)i.dtype).ElementSize()));
        return n == 0 ? Span<byte>.Empty : new Span<byte>((void*)Native.ut_tensor_data_ptr(Handle), n);
    }

    /// <summary>A copy of the elements (row-major), from any device and layout.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckElementType<T>();
        using var c = cpu().contiguous();
        return c.data<T>().ToArray();
    }

    /// <summary>The value of a one-element tensor.</summary>
    public T item<T>() where T : unmanaged
    {
        var v = s_item.Begin().T(this);
        if (typeof(T) == typeof(float)) { var d = (float)v.CallDouble(); return System.Runtime.CompilerServices.Unsafe.As<float, T>(ref d); }
        if (typeof(T) == typeof(double)) { var d = v.CallDouble(); return System.Runtime.CompilerServices.Unsafe.As<double, T>(ref d); }
        if (typeof(T) == typeof(long)) { var l = v.CallLong(); return System.Runtime.CompilerServices.Unsafe.As<long, T>(ref l); }
        if (typeof(T) == typeof(int)) { var l = (int)v.CallLong(); return System.Runtime.CompilerServices.Unsafe.As<int, T>(ref l); }
        if (typeof(T) == typeof(bool)) { var b = v.CallBool(); return System.Runtime.CompilerServices.Unsafe.As<bool, T>(ref b); }
        v.CallDouble();
        throw new TorchException($"item<{typeof(T).Name}> is not supported");
    }

    private static readonly Op s_item = new("aten::item");

    private void CheckElementType<T>() where T : unmanaged
    {
        var want = ScalarTypeExtensions.Of<T>();
        var have = dtype;
        if (want != have) throw new TorchException($"tensor is {have.PyName()}, not {want.PyName()} ({typeof(T).Name})");
    }

    /// <summary>
    /// Applies <paramref name="f"/> to this tensor and releases this one: a pipeline that holds one
    /// intermediate at a time (<c>norm(x).Then(silu).Then(conv)</c>), as Python frees temporaries at
    /// once. Safe under autograd: the graph keeps its own references to what backward needs.
    /// </summary>
    public Tensor Then(Func<Tensor, Tensor> f)
    {
        var result = f(this);
        if (!ReferenceEquals(result, this)) Dispose();
        return result;
    }

    // ---- dispose scopes ----

    /// <summary>Moves this tensor to the enclosing dispose scope (or out of all scopes).</summary>
    public Tensor MoveToOuterDisposeScope()
    {
        var scope = OwningScope;
        scope?.Forget(this);
        scope?.Outer?.Add(this);
        return this;
    }

    /// <summary>Takes this tensor out of dispose scopes: the caller disposes it.</summary>
    public Tensor DetachFromDisposeScope()
    {
        OwningScope?.Forget(this);
        return this;
    }

    public override string ToString()
    {
        if (IsClosed) return "tensor(disposed)";
        var s = $"tensor([{string.Join(", ", shape)}], {dtype.PyName()}, {device})";
        return s;
    }
}
