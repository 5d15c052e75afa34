using System.Runtime.InteropServices;
using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch.jit)

public static partial class torch
{
    /// <summary>The <c>torch.jit</c> namespace of PyTorch: TorchScript files.</summary>
    public static class jit
    {
        /// <summary>Loads a file written by <c>torch.jit.save</c> onto <paramref name="device"/> (CPU by
        /// default), in eval mode, as PyTorch's <c>torch.jit.load(path, map_location)</c>.</summary>
        public static ScriptModule load(string path, Device? device = null) => ScriptModule.Load(path, device ?? Device.CPU);
    }
}

#pragma warning restore CS8981

/// <summary>
/// A TorchScript module loaded from a file: its methods run in libtorch's interpreter, so a network
/// trained and exported anywhere (a feature extractor such as Inception) runs here with no Python.
/// </summary>
public sealed unsafe class ScriptModule : IDisposable
{
    private const int MaxOuts = 16;
    private IntPtr _handle;

    private ScriptModule(IntPtr handle) => _handle = handle;

    internal static ScriptModule Load(string path, Device device)
    {
        Native.Check(Native.ut_module_load(path, (int)device.Type, device.Index, out var h));
        return new ScriptModule(h);
    }

    /// <summary>Calls <c>forward</c> and returns its (first) tensor result.</summary>
    public Tensor forward(Tensor input, IReadOnlyDictionary<string, object>? named = null) =>
        FirstTensor(Call("forward", [input], named), "forward");

    /// <summary>
    /// Calls method <paramref name="method"/> with <paramref name="inputs"/> as its leading positional
    /// arguments and <paramref name="named"/> (bool, int, long or double values) by name; arguments not
    /// given take their defaults. A tuple result comes back as its tensors, in order.
    /// </summary>
    public Tensor[] Call(string method, IReadOnlyList<Tensor> inputs, IReadOnlyDictionary<string, object>? named = null)
    {
        ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
        named ??= new Dictionary<string, object>();
        var count = inputs.Count + named.Count;
        var args = stackalloc UtValue[count];
        var outs = stackalloc UtValue[MaxOuts];
        var names = new IntPtr[count];
        try
        {
            for (var i = 0; i < inputs.Count; i++) args[i] = new UtValue { Tag = Tag.Tensor, P = inputs[i].Handle };
            var k = inputs.Count;
            foreach (var (name, value) in named)
            {
                args[k] = value switch
                {
                    bool b => new UtValue { Tag = Tag.Bool, I = b ? 1 : 0 },
                    int i => new UtValue { Tag = Tag.Int, I = i },
                    long l => new UtValue { Tag = Tag.Int, I = l },
                    double d => new UtValue { Tag = Tag.Double, D = d },
                    _ => throw new TorchException($"{method}: argument '{name}' is a {value.GetType().Name}; bool, int or float expected"),
                };
                names[k++] = Marshal.StringToCoTaskMemUTF8(name);
            }
            int n;
            fixed (IntPtr* namesPtr = names)
                Native.Check(Native.ut_module_call(_handle, method, args, namesPtr, count, outs, MaxOuts, out n));
            GC.KeepAlive(inputs);
            return TakeTensors(outs, n, method);
        }
        finally
        {
            foreach (var p in names) Marshal.FreeCoTaskMem(p);
        }
    }

    private static Tensor[] TakeTensors(UtValue* outs, int n, string method)
    {
        var tensors = new List<Tensor>(n);
        string? other = null;
        for (var i = 0; i < n; i++)
        {
            if (outs[i].Tag == Tag.Tensor) tensors.Add(new Tensor(outs[i].P));
            else if (outs[i].Tag == Tag.TensorList)
            {
                var p = (IntPtr*)outs[i].P;
                for (var k = 0; k < outs[i].N; k++) tensors.Add(new Tensor(p[k]));
                Native.ut_free(outs[i].P);
            }
            else
            {
                if (outs[i].Tag == Tag.IntList) Native.ut_free(outs[i].P);
                other ??= $"{method} returned a value that is not a tensor (result {i})";
            }
        }
        if (tensors.Count == 0 && other is not null) throw new TorchException(other);
        return [.. tensors];
    }

    private static Tensor FirstTensor(Tensor[] results, string method)
    {
        if (results.Length == 0) throw new TorchException($"{method} returned no tensor");
        for (var i = 1; i < results.Length; i++) results[i].Dispose();
        return results[0];
    }

    public void Dispose()
    {
        if (_handle == IntPtr.Zero) return;
        Native.ut_module_free(_handle);
        _handle = IntPtr.Zero;
        GC.SuppressFinalize(this);
    }

    ~ScriptModule()
    {
        if (_handle != IntPtr.Zero) Native.ut_module_free(_handle);
    }
}
