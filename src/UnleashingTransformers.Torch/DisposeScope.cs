namespace UnleashingTransformers.Torch;

/// <summary>
/// Releases every tensor created on this thread while the scope is open, when it is disposed:
/// deterministic memory release without waiting for finalizers. Scopes nest; a tensor that must
/// outlive its scope is moved out with <see cref="Tensor.MoveToOuterDisposeScope"/> or
/// <see cref="Tensor.DetachFromDisposeScope"/>. Parameters and module buffers never belong to a scope.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? s_current;

    private readonly HashSet<Tensor> _tensors = new(ReferenceEqualityComparer.Instance);
    internal readonly DisposeScope? Outer;
    private bool _disposed;

    internal DisposeScope()
    {
        Outer = s_current;
        s_current = this;
    }

    public static DisposeScope? Current => s_current;

    /// <summary>How many tensors the scope holds now.</summary>
    public int Count => _tensors.Count;

    internal static void Register(Tensor t) => s_current?.Add(t);

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
        if (ReferenceEquals(s_current, this)) s_current = Outer;
    }
}
