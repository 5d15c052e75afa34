namespace UnleashingTransformers.Torch;

/// <summary>
/// Releases every tensor created on this thread while the scope is open, when it is disposed:
/// deterministic memory release without waiting for finalizers. Scopes nest; a tensor that must
/// outlive its scope is moved out with <see cref="Tensor.MoveToOuterDisposeScope"/> or
/// <see cref="Tensor.DetachFromDisposeScope"/>. Parameters and module buffers never belong to a scope.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? t_current;

    private readonly HashSet<Tensor> _tensors = new(ReferenceEqualityComparer.Instance);
    internal readonly DisposeScope? Outer;
    private bool _disposed;

    internal DisposeScope()
    {
        Outer = t_current;
        t_current = this;
    }

    public static DisposeScope? Current => t_current;

    /// <summary>How many tensors the scope holds now.</summary>
    public int Count => _tensors.Count;

    internal static void Register(Tensor t) => t_current?.Add(t);

    internal void Add(Tensor t)
    {
        if (_disposed) return;
        _tensors.Add(t);
        t.OwningScope = this;
    }

    internal void Forget(Tensor t)
    {
        _tensors.Remove(t);
        t.OwningScope = null;
    }

    /// <summary>Keeps these tensors alive past the scope, in the enclosing scope.</summary>
    public void MoveToOuter(params Tensor[] tensors)
    {
        foreach (var t in tensors) t.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _tensors)
        {
            t.OwningScope = null;
            t.Dispose();
        }
        _tensors.Clear();
        // Scopes are closed innermost first; a scope disposed out of order unlinks itself only.
        if (ReferenceEquals(t_current, this)) t_current = Outer;
    }
}
