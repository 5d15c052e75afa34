using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

public static partial class torch
{
    /// <summary>Reads a torch.save file: a tensor, a state dict, an optimizer state, or any nesting of
    /// dicts, lists and tuples of those (see <see cref="PyDict"/> for how Python values map).</summary>
    public static object? load(string path) => TorchFile.Load(path);

    /// <summary>Reads a state dict (name -> tensor). Non-tensor entries are left out.</summary>
    public static OrderedDictionary<string, Tensor> load_state_dict(string path) => load_state_dict(path, out _);

    /// <summary>Reads a state dict and its <c>_metadata</c> (module prefix -> {"version": ..., ...}, as
    /// PyTorch's <c>state_dict()</c> attaches it; null when the file has none).</summary>
    public static OrderedDictionary<string, Tensor> load_state_dict(string path, out PyDict? metadata)
    {
        var obj = TorchFile.Load(path);
        if (obj is not PyDict dict)
            throw new TorchException($"{path}: holds a {Describe(obj)}, not a state dict (name -> tensor)");
        var result = new OrderedDictionary<string, Tensor>();
        foreach (var (k, v) in dict)
            if (k is string name && v is Tensor t) result[name] = t;
        if (result.Count == 0 && dict.Count > 0)
            throw new TorchException($"{path}: holds a dict without tensors, not a state dict");
        metadata = dict.Attributes.GetValueOrDefault("_metadata") as PyDict;
        return result;
    }

    /// <summary>Reads a file holding a single tensor (e.g. a latent cache).</summary>
    public static Tensor load_tensor(string path) =>
        TorchFile.Load(path) as Tensor ?? throw new TorchException($"{path}: does not hold a single tensor");

    /// <summary>Writes <paramref name="value"/> so that PyTorch's torch.load reads it; atomically.</summary>
    public static void save(object? value, string path) => TorchFile.Save(value, path);

    private static string Describe(object? o) => o switch
    {
        null => "None",
        Tensor => "tensor",
        PyObject p => p.Type.ToString(),
        _ => o.GetType().Name,
    };
}
