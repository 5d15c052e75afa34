using System.CommandLine;
using UnleashingTransformers.Silo;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut silo</c>: runs the roles of a silo.json until stopped (SIGTERM/Ctrl-C drain it).</summary>
internal static class SiloCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "silo configuration (the repository's silo.json: every role, in process)", DefaultValueFactory = _ => "silo.json" };
        var cmd = new Command("silo", "Run a grid node: window replicas, canvas jobs, a trainer and/or the HTTP gateway, as silo.json says. " +
            "Settings can be overridden by environment (UT__Cluster__Redis=...) or arguments (Cluster:Redis=127.0.0.1:6379)")
        {
            config,
        };
        // Key=Value arguments are configuration overrides, as .NET's command-line configuration reads them.
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction(r =>
        {
            var overrides = r.UnmatchedTokens.ToArray();
            var bad = overrides.FirstOrDefault(t => !t.Contains('=') && !t.StartsWith("--", StringComparison.Ordinal));
            if (bad is not null) throw new ArgumentException($"unexpected argument '{bad}': overrides are Key=Value (e.g. Cluster:Redis=127.0.0.1:6379)");
            var silo = SiloConfig.Load(r.GetValue(config)!, overrides);
            return SiloHost.RunAsync(silo).GetAwaiter().GetResult();
        });
        return cmd;
    }
}
