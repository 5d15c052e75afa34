using System.Text.Json;
using UnleashingTransformers.Cli.Tests;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Silo configurations and reference images for the grid tests.</summary>
public abstract class GridTest : TempDirTest
{
    protected static readonly string Models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");
    protected static readonly string Prior = Path.Combine(Models, "absorbing_ema.th");
    protected static readonly string VqGan = Path.Combine(Models, "vqgan_ema.th");

    /// <summary>Writes a silo.json; <paramref name="settings"/> are merged over the model paths.</summary>
    protected string Config(string name, object settings)
    {
        var doc = JsonSerializer.SerializeToNode(settings)!.AsObject();
        doc["Models"] ??= new System.Text.Json.Nodes.JsonObject { ["Prior"] = Prior, ["VqGan"] = VqGan };
        doc["StateDirectory"] ??= P("state");
        doc["Threads"] ??= 1;
        var path = P(name);
        File.WriteAllText(path, doc.ToJsonString());
        return path;
    }

    /// <summary>The embedded run's image for a job: what every distributed run must reproduce byte for byte.</summary>
    protected byte[] Embedded(string shape, ulong seed, params string[] extra)
    {
        var file = P($"embedded-{shape}-{seed}.png");
        Ut.Ok(["generate", "--shape", shape, "--seed", seed.ToString(), "--out", file, .. extra]);
        return File.ReadAllBytes(file);
    }

    protected static UtProcess WindowSilo(string config) => UtProcess.Silo(config).Also(s => s.WaitFor("window replica 0 serving"));
}

internal static class Fluent
{
    public static T Also<T>(this T x, Action<T> f) { f(x); return x; }
}
