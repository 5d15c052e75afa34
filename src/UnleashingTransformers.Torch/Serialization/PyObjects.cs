namespace UnleashingTransformers.Torch.Serialization;

// The Python values a PyTorch file can hold, as the binding represents them:
//   None -> null, bool, int -> long, float -> double, str -> string, bytes -> byte[],
//   list -> List<object?>, tuple -> PyTuple, dict / OrderedDict -> PyDict, tensor -> Tensor,
//   anything else -> PyObject (kept, so that what is not needed does not stop a load).

/// <summary>A Python dict or collections.OrderedDict (insertion-ordered); <see cref="Attributes"/>
/// holds instance attributes such as a state dict's <c>_metadata</c>.</summary>
public sealed class PyDict : OrderedDictionary<object, object?>
{
    public bool IsOrderedDict { get; set; }
    public Dictionary<string, object?> Attributes { get; } = new();
}

/// <summary>A Python tuple.</summary>
public sealed class PyTuple(params object?[] items) : IReadOnlyList<object?>
{
    public object?[] Items { get; } = items;
    public object? this[int index] => Items[index];
    public int Count => Items.Length;
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>A Python global (module.name) referenced by the pickle.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>An object of a class the binding does not interpret: its class, arguments and state.</summary>
public sealed class PyObject(PyGlobal type, object? args)
{
    public PyGlobal Type { get; } = type;
    public object? Args { get; } = args;
    public object? State { get; set; }
    public override string ToString() => $"<{Type} object>";
}
