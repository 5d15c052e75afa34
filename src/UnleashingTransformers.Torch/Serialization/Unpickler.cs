using System.Buffers.Binary;
using System.Text;

namespace UnleashingTransformers.Torch.Serialization;

/// <summary>
/// Reads the pickle subset torch.save emits (protocol 2, and the protocol 3-5 opcodes newer Pythons
/// use for the same objects). Tensors are rebuilt through <paramref name="persistentLoad"/> (the zip's
/// storages) and <c>torch._utils._rebuild_tensor_v2</c>; unknown classes become <see cref="PyObject"/>.
/// Malformed input raises <see cref="InvalidDataException"/>, never reads out of bounds.
/// </summary>
internal sealed class Unpickler(byte[] data, Func<PyTuple, object> persistentLoad)
{
    private int _pos;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    private sealed class Mark;

    public object? Load()
    {
        while (true)
        {
            var op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break; // PROTO
                case 0x95: Read(8); break; // FRAME
                case (byte)'.': return Pop(); // STOP
                case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Read(4))); break; // BININT
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Read(4))))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Read(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Read(4))))); break; // BINUNICODE
                case 0x8c: Push(Utf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Read(8))))); break; // BINUNICODE8
                case (byte)'T': Push(Latin1(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Read(4))))); break; // BINSTRING
                case (byte)'U': Push(Latin1(ReadByte())); break; // SHORT_BINSTRING
                case (byte)'B': Push(Read(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Read(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case 0x8e: Push(Read(checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Read(8)))).ToArray()); break; // BINBYTES8
                case (byte)'}': Push(new PyDict()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(new PyTuple()); break;
                case (byte)'t': Push(new PyTuple(PopMark().ToArray())); break;
                case 0x85: Push(new PyTuple(Pop())); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple(a, b)); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple(a, b, c)); break; }
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'d': { var items = PopMark(); var d = new PyDict(); SetItems(d, items); Push(d); break; } // DICT
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Peek(), new List<object?> { k, v }); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(Peek(), items); break; } // SETITEMS
                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Read(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(Memo(ReadByte())); break; // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Read(4)))); break; // LONG_BINGET
                case (byte)'c': { var module = ReadLine(); var name = ReadLine(); Push(new PyGlobal(module, name)); break; } // GLOBAL
                case 0x93: { var name = (string)Pop()!; var module = (string)Pop()!; Push(new PyGlobal(module, name)); break; } // STACK_GLOBAL
                case (byte)'R': { var args = Pop(); var fn = Pop(); Push(Reduce(fn, args)); break; } // REDUCE
                case 0x81: { var args = Pop(); var cls = Pop(); Push(Reduce(cls, args)); break; } // NEWOBJ
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; } // BUILD
                case (byte)'Q': Push(persistentLoad(Pop() as PyTuple ?? throw Bad("persistent id is not a tuple"))); break; // BINPERSID
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                default: throw Bad($"unsupported pickle opcode 0x{op:x2} at byte {_pos - 1}");
            }
        }
    }

    private static InvalidDataException Bad(string message) => new($"pickle: {message}");

    private byte ReadByte()
    {
        if (_pos >= data.Length) throw Bad("truncated");
        return data[_pos++];
    }

    private ReadOnlySpan<byte> Read(int n)
    {
        if (n < 0 || _pos + n > data.Length) throw Bad("truncated");
        var span = data.AsSpan(_pos, n);
        _pos += n;
        return span;
    }

    private string Utf8(int n) => Encoding.UTF8.GetString(Read(n));
    private string Latin1(int n) => Encoding.Latin1.GetString(Read(n));

    private string ReadLine()
    {
        var end = Array.IndexOf(data, (byte)'\n', _pos);
        if (end < 0) throw Bad("truncated");
        var s = Encoding.UTF8.GetString(data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private long ReadLong(int n)
    {
        if (n > 8) throw Bad($"integer of {n} bytes is too large");
        var bytes = Read(n);
        long v = 0;
        for (var i = n - 1; i >= 0; i--) v = (v << 8) | bytes[i];
        if (n > 0 && n < 8 && (bytes[n - 1] & 0x80) != 0) v -= 1L << (8 * n); // sign
        return v;
    }

    private void Push(object? o) => _stack.Add(o);

    private object? Pop()
    {
        if (_stack.Count == 0) throw Bad("stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek() => _stack.Count == 0 ? throw Bad("stack underflow") : _stack[^1];

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Bad("no mark");
        var at = _marks.Pop();
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private object? Memo(long key) => _memo.TryGetValue(key, out var v) ? v : throw Bad($"memo key {key} missing");

    private static List<object?> AsList(object? o) => o as List<object?> ?? throw Bad("append to a non-list");

    private static void SetItems(object? target, List<object?> items)
    {
        if (target is not PyDict d) throw Bad("setitem on a non-dict");
        for (var i = 0; i + 1 < items.Count; i += 2) d[items[i] ?? throw Bad("None dict key")] = items[i + 1];
    }

    private static void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyDict d when state is PyDict attrs:
                foreach (var (k, v) in attrs) d.Attributes[k.ToString()!] = v;
                break;
            case PyObject o:
                o.State = state;
                break;
        }
    }

    private static object? Reduce(object? callable, object? args)
    {
        if (callable is not PyGlobal g) throw Bad("call of a non-global");
        var a = args as PyTuple ?? throw Bad($"arguments of {g} are not a tuple");
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
                var dict = new PyDict { IsOrderedDict = true };
                if (a.Count == 1 && a[0] is List<object?> pairs)
                    foreach (var p in pairs.OfType<PyTuple>()) dict[p[0]!] = p[1];
                return dict;
            case ("torch._utils", "_rebuild_tensor_v2"):
            case ("torch._utils", "_rebuild_tensor"):
                return TorchFile.RebuildTensor(a);
            case ("torch._utils", "_rebuild_parameter"):
            case ("torch._utils", "_rebuild_parameter_with_state"):
                return a[0];
            case ("torch", "Size"):
                return a.Count == 1 && a[0] is PyTuple t ? t : a;
            case ("_codecs", "encode"):
                return Encoding.Latin1.GetBytes((string)a[0]!);
            case ("builtins" or "__builtin__", "set" or "frozenset"):
                return a.Count == 1 && a[0] is List<object?> l ? l : new List<object?>();
            case ("torch", "device"):
                return a.Count > 0 ? a[0]?.ToString() : "cpu";
            default:
                return new PyObject(g, a);
        }
    }
}
