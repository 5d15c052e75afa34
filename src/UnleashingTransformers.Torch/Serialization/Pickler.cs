using System.Buffers.Binary;
using System.Text;

namespace UnleashingTransformers.Torch.Serialization;

/// <summary>
/// Writes Python values as protocol-2 pickle, the way torch.save does: tensors become
/// <c>torch._utils._rebuild_tensor_v2</c> calls over persistent storage ids, whose bytes the caller
/// stores in the zip. Python's own unpickler (torch.load) reads the result.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "a MemoryStream holds no unmanaged resource")]
internal sealed class Pickler(Func<Tensor, string> storageKey)
{
    private readonly MemoryStream _out = new();

    public byte[] Dump(object? value)
    {
        _out.WriteByte(0x80);
        _out.WriteByte(2);
        Write(value);
        _out.WriteByte((byte)'.');
        return _out.ToArray();
    }

    private void Op(char c) => _out.WriteByte((byte)c);

    private void Global(string module, string name)
    {
        Op('c');
        var bytes = Encoding.UTF8.GetBytes($"{module}\n{name}\n");
        _out.Write(bytes);
    }

    private void Write(object? value)
    {
        switch (value)
        {
            case null: Op('N'); break;
            case bool b: _out.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case int i: WriteInt(i); break;
            case long l: WriteInt(l); break;
            case float f: WriteFloat(f); break;
            case double d: WriteFloat(d); break;
            case string s: WriteString(s); break;
            case Tensor t: WriteTensor(t); break;
            case PyTuple t: WriteTuple(t.Items); break;
            case PyDict d: WriteDict(d, d.IsOrderedDict, d); break;
            case OrderedDictionary<string, Tensor> sd: WriteDict(sd.Select(kv => new KeyValuePair<object, object?>(kv.Key, kv.Value)), ordered: true, null); break;
            case System.Collections.IDictionary d:
                WriteDict(d.Keys.Cast<object>().Select(k => new KeyValuePair<object, object?>(k, d[k])), ordered: false, null);
                break;
            case System.Collections.IList list:
                Op(']');
                if (list.Count > 0)
                {
                    Op('(');
                    foreach (var item in list) Write(item);
                    Op('e');
                }
                break;
            default: throw new TorchException($"torch.save cannot write a {value.GetType().Name}");
        }
    }

    private void WriteInt(long v)
    {
        if (v is >= 0 and < 256) { Op('K'); _out.WriteByte((byte)v); }
        else if (v is >= 0 and < 65536) { Op('M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); _out.Write(b); }
        else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _out.Write(b); }
        else { _out.WriteByte(0x8a); _out.WriteByte(8); Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); _out.Write(b); }
    }

    private void WriteFloat(double d)
    {
        Op('G');
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _out.Write(b);
    }

    private void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Op('X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)bytes.Length);
        _out.Write(n);
        _out.Write(bytes);
    }

    private void WriteTuple(object?[] items)
    {
        if (items.Length == 0) { Op(')'); return; }
        if (items.Length > 3) Op('(');
        foreach (var item in items) Write(item);
        _out.WriteByte(items.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => (byte)'t' });
    }

    private void WriteDict(IEnumerable<KeyValuePair<object, object?>> items, bool ordered, PyDict? withAttributes)
    {
        if (ordered)
        {
            Global("collections", "OrderedDict");
            Op(')');
            Op('R');
        }
        else Op('}');
        var any = false;
        foreach (var (k, v) in items)
        {
            if (!any) { Op('('); any = true; }
            Write(k);
            Write(v);
        }
        if (any) Op('u');
        if (withAttributes is { Attributes.Count: > 0 })
        {
            Op('}');
            Op('(');
            foreach (var (k, v) in withAttributes.Attributes) { Write(k); Write(v); }
            Op('u');
            Op('b');
        }
    }

    private void WriteTensor(Tensor t)
    {
        var key = storageKey(t);
        var shape = t.shape;
        // Contiguous row-major strides: the storage the caller writes is the tensor's contiguous copy.
        var stride = new long[shape.Length];
        long s = 1;
        for (var i = shape.Length - 1; i >= 0; i--) { stride[i] = s; s *= shape[i]; }

        Global("torch._utils", "_rebuild_tensor_v2");
        Op('(');
        // persistent id: ('storage', torch.<Kind>Storage, key, 'cpu', numel)
        Op('(');
        WriteString("storage");
        Global("torch", StorageClass(t.dtype));
        WriteString(key);
        WriteString("cpu");
        WriteInt(t.numel());
        Op('t');
        Op('Q');
        WriteInt(0);
        WriteTuple(shape.Cast<object?>().ToArray());
        WriteTuple(stride.Cast<object?>().ToArray());
        Write(false);
        Global("collections", "OrderedDict");
        Op(')');
        Op('R');
        Op('t');
        Op('R');
    }

    internal static string StorageClass(ScalarType t) => t switch
    {
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Float64 => "DoubleStorage",
        ScalarType.Float16 => "HalfStorage",
        ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Int64 => "LongStorage",
        ScalarType.Int32 => "IntStorage",
        ScalarType.Int16 => "ShortStorage",
        ScalarType.Int8 => "CharStorage",
        ScalarType.Byte => "ByteStorage",
        ScalarType.Bool => "BoolStorage",
        _ => throw new TorchException($"torch.save cannot write {t} tensors"),
    };

    internal static ScalarType? StorageType(string name) => name switch
    {
        "FloatStorage" => ScalarType.Float32,
        "DoubleStorage" => ScalarType.Float64,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        _ => null,
    };
}
