using System.Text.Json;

namespace UnleashingTransformers.Cli;

/// <summary>The generation parameters of a PNG that is not a canvas job's (samples, decodes, reconstructions):
/// a JSON object of named values, in the order given.</summary>
internal static class Made
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static string Json(params (string name, object? value)[] fields) =>
        JsonSerializer.Serialize(fields.ToDictionary(f => f.name, f => f.value), Options);
}
