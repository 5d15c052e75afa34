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
