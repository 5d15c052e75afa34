using System.Runtime.InteropServices;

namespace UnleashingTransformers.Torch.Interop;

/// <summary>
/// An ATen operator, looked up once by schema name in libtorch's dispatcher ("aten::add" overload
/// "Tensor") and called with <see cref="OpCall"/>. Every Tensor method of the binding is one of these
/// calls: the kernels, autograd and device dispatch are libtorch's own.
/// </summary>
internal sealed class Op(string name, string overload = "")
{
    private IntPtr _handle;

    public string Name => overload.Length == 0 ? name : $"{name}.{overload}";

    internal IntPtr Handle
    {
        get
        {
            if (_handle == IntPtr.Zero)
            {
                Native.Check(Native.ut_op_find(name, overload, out var h));
                _handle = h; // benign race: both lookups return the same operator
            }
            return _handle;
        }
    }

    public string Schema => Native.Str(Native.ut_op_schema(Handle));

    /// <summary>Starts a call: push the arguments in schema order, then take the results.</summary>
    public OpCall Begin() => new(this);
}

/// <summary>
/// The argument frame of one operator call. Values go into a per-thread native buffer (no allocation
/// per call); list payloads into a per-thread scratch area; the tensors passed are kept reachable until
/// the native call returns. Trailing arguments left out take the schema's defaults.
/// </summary>
internal unsafe ref struct OpCall
{
    private const int MaxArgs = 32, MaxOuts = 16;

    private sealed class Frame
    {
        public readonly UtValue* Args = (UtValue*)NativeMemory.AllocZeroed(MaxArgs, (nuint)sizeof(UtValue));
        public readonly UtValue* Outs = (UtValue*)NativeMemory.AllocZeroed(MaxOuts, (nuint)sizeof(UtValue));
        public byte* Scratch = (byte*)NativeMemory.Alloc(4096);
        public int ScratchSize = 4096;
        public readonly List<object> KeepAlive = new();
        public bool Busy;
    }

    [ThreadStatic] private static Frame? s_frame;

    private readonly Op _op;
    private readonly Frame _frame;
    private int _count;
    private int _scratchUsed;

    internal OpCall(Op op)
    {
        _op = op;
        _frame = s_frame ??= new Frame();
        if (_frame.Busy)
        {
            // A call begun while another is being built on this thread: a binding bug (arguments
            // must be evaluated before Begin). Both calls are abandoned by the exception.
            Reset(_frame);
            throw new InvalidOperationException($"nested operator call to {op.Name}: evaluate arguments before Begin()");
        }
        _frame.Busy = true;
        _count = 0;
        _scratchUsed = 0;
    }

    private static void Reset(Frame frame)
    {
        frame.KeepAlive.Clear();
        frame.Busy = false;
    }

    private Exception Abort(Exception e)
    {
        Reset(_frame);
        return e;
    }

    private ref UtValue Next(int tag)
    {
        if (_count == MaxArgs) throw Abort(new TorchException($"{_op.Name}: too many arguments"));
        ref var v = ref _frame.Args[_count++];
        v = default;
        v.Tag = tag;
        return ref v;
    }

    private void* Reserve(int bytes)
    {
        bytes = (bytes + 15) & ~15;
        if (_scratchUsed + bytes > _frame.ScratchSize)
        {
            // Grow; the earlier payloads of this call are copied along and their pointers fixed up.
            var size = Math.Max(_frame.ScratchSize * 2, _scratchUsed + bytes);
            var fresh = (byte*)NativeMemory.Alloc((nuint)size);
            Buffer.MemoryCopy(_frame.Scratch, fresh, size, _scratchUsed);
            for (var i = 0; i < _count; i++)
            {
                var p = (byte*)_frame.Args[i].P;
                if (p >= _frame.Scratch && p < _frame.Scratch + _frame.ScratchSize)
                    _frame.Args[i].P = (IntPtr)(fresh + (p - _frame.Scratch));
            }
            NativeMemory.Free(_frame.Scratch);
            _frame.Scratch = fresh;
            _frame.ScratchSize = size;
        }
        var at = _frame.Scratch + _scratchUsed;
        _scratchUsed += bytes;
        return at;
    }

    private IntPtr HandleOf(Tensor t)
    {
        if (t.IsClosed || t.IsInvalid) throw Abort(new ObjectDisposedException(nameof(Tensor), $"{_op.Name}: a disposed tensor was passed"));
        _frame.KeepAlive.Add(t);
        return t.Handle;
    }

    // ---- arguments ----

    public OpCall T(Tensor t) { Next(Tag.Tensor).P = HandleOf(t); return this; }

    public OpCall T(Tensor? t, bool optional)
    {
        if (t is null) { if (!optional) throw Abort(new ArgumentNullException(nameof(t))); Next(Tag.None); }
        else Next(Tag.Tensor).P = HandleOf(t);
        return this;
    }

    public OpCall TOpt(Tensor? t) => T(t, optional: true);

    public OpCall I(long v) { Next(Tag.Int).I = v; return this; }
    public OpCall I(long? v) { if (v is null) Next(Tag.None); else Next(Tag.Int).I = v.Value; return this; }
    public OpCall D(double v) { Next(Tag.Double).D = v; return this; }
    public OpCall D(double? v) { if (v is null) Next(Tag.None); else Next(Tag.Double).D = v.Value; return this; }
    public OpCall B(bool v) { Next(Tag.Bool).I = v ? 1 : 0; return this; }
    public OpCall B(bool? v) { if (v is null) Next(Tag.None); else Next(Tag.Bool).I = v.Value ? 1 : 0; return this; }
    public OpCall None() { Next(Tag.None); return this; }
    public OpCall Default() { Next(Tag.Default); return this; }
    public OpCall Str(string s)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(s);
        var p = (byte*)Reserve(bytes + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, bytes));
        p[bytes] = 0;
        Next(Tag.String).P = (IntPtr)p;
        return this;
    }

    public OpCall S(Scalar s)
    {
        if (s.Kind == 0) Next(Tag.Double).D = s.D;
        else if (s.Kind == 1) Next(Tag.Int).I = s.L;
        else Next(Tag.Bool).I = s.L;
        return this;
    }

    public OpCall S(Scalar? s) => s is null ? None() : S(s.Value);

    public OpCall L(ReadOnlySpan<long> values) => List(values, Tag.IntList);

    public OpCall LOpt(long[]? values) => values is null ? None() : L(values);

    public OpCall DL(ReadOnlySpan<double> values) => List(values, Tag.DoubleList);

    /// <summary>A list argument: the values copied into the call's arena.</summary>
    private OpCall List<T>(ReadOnlySpan<T> values, int tag) where T : unmanaged
    {
        var p = (T*)Reserve(values.Length * sizeof(T));
        values.CopyTo(new Span<T>(p, values.Length));
        ref var v = ref Next(tag);
        v.P = (IntPtr)p;
        v.N = values.Length;
        return this;
    }

    public OpCall Ts(IReadOnlyList<Tensor> tensors) => TensorList(tensors, Tag.TensorList);

    /// <summary>A Tensor?[] argument (advanced indexing): null entries are None.</summary>
    public OpCall TsOpt(IReadOnlyList<Tensor?> tensors) => TensorList(tensors, Tag.OptTensorList);

    private OpCall TensorList(IReadOnlyList<Tensor?> tensors, int tag)
    {
        var p = (IntPtr*)Reserve(tensors.Count * sizeof(IntPtr));
        for (var i = 0; i < tensors.Count; i++) p[i] = tensors[i] is { } t ? HandleOf(t) : IntPtr.Zero;
        ref var v = ref Next(tag);
        v.P = (IntPtr)p;
        v.N = tensors.Count;
        return this;
    }

    public OpCall Dev(Device? d)
    {
        if (d is null) return None();
        ref var v = ref Next(Tag.Device);
        v.I = (int)d.Value.Type;
        v.N = d.Value.Index;
        return this;
    }

    public OpCall DType(ScalarType? t) => t is null ? None() : I((long)t.Value);

    public OpCall Gen(Generator? g)
    {
        if (g is null) return None();
        _frame.KeepAlive.Add(g);
        Next(Tag.Generator).P = g.Handle;
        return this;
    }

    // ---- the call and its results ----

    private int Invoke()
    {
        try
        {
            Native.Check(Native.ut_op_call(_op.Handle, _frame.Args, _count, _frame.Outs, MaxOuts, out var n));
            return n;
        }
        finally
        {
            Reset(_frame);
        }
    }

    private Tensor TakeTensor(int i)
    {
        var v = _frame.Outs[i];
        if (v.Tag != Tag.Tensor) throw new TorchException($"{_op.Name}: result {i} is not a tensor");
        return new Tensor(v.P);
    }

    /// <summary>Calls an operator whose result is one tensor.</summary>
    public Tensor Call()
    {
        var n = Invoke();
        if (n < 1) throw new TorchException($"{_op.Name}: no result");
        return TakeTensor(0);
    }

    /// <summary>Calls an in-place operator; the result (an alias of self) is released at once.</summary>
    public void CallInPlace()
    {
        var n = Invoke();
        for (var i = 0; i < n; i++) ReleaseOut(i);
    }

    public (Tensor, Tensor) Call2()
    {
        var n = Invoke();
        if (n < 2) throw new TorchException($"{_op.Name}: expected two results");
        return (TakeTensor(0), TakeTensor(1));
    }

    public (Tensor, Tensor, Tensor) Call3()
    {
        var n = Invoke();
        if (n < 3) throw new TorchException($"{_op.Name}: expected three results");
        return (TakeTensor(0), TakeTensor(1), TakeTensor(2));
    }

    public Tensor[] CallList()
    {
        Invoke();
        var v = _frame.Outs[0];
        if (v.Tag != Tag.TensorList) throw new TorchException($"{_op.Name}: result is not a tensor list");
        var result = new Tensor[v.N];
        var p = (IntPtr*)v.P;
        for (var i = 0; i < v.N; i++) result[i] = new Tensor(p[i]);
        Native.ut_free(v.P);
        return result;
    }

    public long CallLong()
    {
        Invoke();
        var v = _frame.Outs[0];
        return v.Tag switch
        {
            Tag.Int or Tag.Bool => v.I,
            Tag.Double => (long)v.D,
            _ => throw new TorchException($"{_op.Name}: result is not a number"),
        };
    }

    public double CallDouble()
    {
        Invoke();
        var v = _frame.Outs[0];
        return v.Tag switch
        {
            Tag.Int or Tag.Bool => v.I,
            Tag.Double => v.D,
            _ => throw new TorchException($"{_op.Name}: result is not a number"),
        };
    }

    public bool CallBool() => CallLong() != 0;

    private void ReleaseOut(int i)
    {
        var v = _frame.Outs[i];
        if (v.Tag == Tag.Tensor) Native.ut_tensor_free(v.P);
        else if (v.Tag == Tag.TensorList)
        {
            var p = (IntPtr*)v.P;
            for (var k = 0; k < v.N; k++) Native.ut_tensor_free(p[k]);
            Native.ut_free(v.P);
        }
        else if (v.Tag == Tag.IntList) Native.ut_free(v.P);
    }
}
