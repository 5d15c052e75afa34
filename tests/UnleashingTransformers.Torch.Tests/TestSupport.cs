using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace UnleashingTransformers.Torch.Tests;

internal static class Fixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures");
    public static string PathOf(string name) => Path.Combine(Dir, name);

    private static readonly Lazy<JsonElement> ExpectedValues = new(() =>
        JsonDocument.Parse(File.ReadAllText(PathOf("expected.json"))).RootElement);

    /// <summary>Values PyTorch computed when it wrote the fixtures (make_fixtures.py).</summary>
    public static JsonElement Expected => ExpectedValues.Value;

    public static double[] Doubles(this JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
    public static long[] Longs(this JsonElement e) => e.EnumerateArray().Select(v => v.GetInt64()).ToArray();

    public static void Close(double[] expected, double[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).ToArray<double>();
}

/// <summary>Debian's PyTorch (python3-torch), used to check files the binding writes.</summary>
internal static class PyTorch
{
    public const string Python = "/usr/bin/python3";

    public static readonly bool Available = Probe();

    private static bool Probe()
    {
        try
        {
            var (code, _) = Run("-c", "import torch");
            return code == 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    public static (int code, string output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}

/// <summary>A fact that needs Debian's python3-torch; skipped, saying so, where it is missing.</summary>
public sealed class PyTorchFactAttribute : FactAttribute
{
    public PyTorchFactAttribute()
    {
        if (!PyTorch.Available) Skip = "needs Debian's python3-torch (/usr/bin/python3 with torch): run deploy/bootstrap.sh";
    }
}
