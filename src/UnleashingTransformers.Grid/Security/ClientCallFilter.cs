using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Security;

/// <summary>
/// The grain surface outside processes see: an Orleans client (anything that came in through a gateway port)
/// may call the methods marked <see cref="ClientCallableAttribute"/> and nothing else; silos call everything.
/// Code running in a silo but outside a grain (the HTTP gateway) calls as the silo's hosted client, whose id
/// names that silo: it counts as a silo when it is this one or an active member. Orleans' own system calls
/// are not its business.
/// </summary>
public sealed class ClientCallFilter(IClusterMembershipService membership, ILocalSiloDetails self, ILogger<ClientCallFilter> log) : IIncomingGrainCallFilter
{
    private const string HostedPrefix = "hosted-";
    private static readonly ConcurrentDictionary<MethodInfo, bool> Callable = new();
    /// <summary>The grains this filter guards: the grid's (Orleans' own system calls pass through untouched).</summary>
    private static readonly Assembly[] Guarded = [typeof(ICanvasJobGrain).Assembly];

    public Task Invoke(IIncomingGrainCallContext context)
    {
        var method = context.InterfaceMethod;
        if (context.SourceId is not { } source || !source.IsClient() || method?.DeclaringType is not { } type || !Guarded.Contains(type.Assembly) || FromSilo(source))
            return context.Invoke();
        if (Callable.GetOrAdd(method, m => m.GetCustomAttribute<ClientCallableAttribute>() is not null)) return context.Invoke();
        var name = $"{type.Name}.{method.Name}";
        log.LogWarning("refused a client's call to {Method} on {Grain}", name, context.TargetId);
        throw new UnauthorizedAccessException($"{name} is not open to clients: they submit, follow, cancel and download jobs (ICanvasJobGrain) and list them (IJobIndexGrain.ListAsync)");
    }

    private bool FromSilo(GrainId client)
    {
        var key = client.Key.ToString();
        if (key is null || !key.StartsWith(HostedPrefix, StringComparison.Ordinal)) return false;
        var silo = key[HostedPrefix.Length..];
        return silo == self.SiloAddress.ToParsableString() || membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && m.SiloAddress.ToParsableString() == silo);
    }
}
