namespace UnleashingTransformers.Silo;

/// <summary>What <c>/readyz</c> reports: each role says when it is ready, and why not until then.</summary>
public sealed class SiloState
{
    private readonly Dictionary<string, string?> _waiting = new();

    public SiloState(IEnumerable<string> roles)
    {
        foreach (var r in roles) _waiting[r] = "starting";
    }

    public void Ready(string role) { lock (_waiting) _waiting[role] = null; }
    public void NotReady(string role, string why) { lock (_waiting) _waiting[role] = why; }

    public (bool ready, string[] waiting) Check()
    {
        lock (_waiting)
        {
            var waiting = _waiting.Where(kv => kv.Value is not null).Select(kv => $"{kv.Key}: {kv.Value}").ToArray();
            return (waiting.Length == 0, waiting);
        }
    }

    /// <summary>Wakes the canvas role when the gateway in the same silo stores a job.</summary>
    public SemaphoreSlim JobsChanged { get; } = new(0);
}
