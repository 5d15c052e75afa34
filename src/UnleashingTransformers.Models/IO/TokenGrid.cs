using System.Text.Json;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.IO;

/// <summary>
/// A token grid as the CLI reads and writes it: <c>{"shape":[H,W],"tokens":[...]}</c>, ids row-major.
/// </summary>
public sealed record TokenGrid(int H, int W, long[] Tokens)
{
    /// <summary>Writes the file atomically, streamed: a canvas of millions of tokens never becomes a JSON tree.</summary>
    public void Save(string path) => AtomicFile.Write(path, tmp =>
    {
        using var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        json.WriteStartArray("shape");
        json.WriteNumberValue(H);
        json.WriteNumberValue(W);
        json.WriteEndArray();
        json.WriteStartArray("tokens");
        foreach (var t in Tokens) json.WriteNumberValue(t);
        json.WriteEndArray();
        json.WriteEndObject();
    });

    /// <summary>Reads and checks a token file; ids must lie in [0, codebookSize) when that is given. Parsed as a
    /// read-only document (12 bytes a token), not a tree of nodes (over 100: 479 MB for 2048x2048 tokens).</summary>
    public static TokenGrid Load(string path, int? codebookSize = null)
    {
        if (!File.Exists(path)) throw new ArgumentException($"{path}: file not found");
        JsonDocument document;
        try
        {
            using var stream = File.OpenRead(path);
            document = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path}: not a token file ({e.Message})");
        }
        using var _ = document;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || shape.GetArrayLength() != 2 || !root.TryGetProperty("tokens", out var tokens) || tokens.ValueKind != JsonValueKind.Array)
            throw new ArgumentException($"{path}: expected {{\"shape\":[H,W],\"tokens\":[...]}}");
        if (!Integer(shape[0], out var h) || !Integer(shape[1], out var w) || h > int.MaxValue || w > int.MaxValue)
            throw new ArgumentException($"{path}: shape and tokens must be integers");
        var ids = new long[tokens.GetArrayLength()];
        var i = 0;
        foreach (var t in tokens.EnumerateArray())
            if (!Integer(t, out ids[i++])) throw new ArgumentException($"{path}: shape and tokens must be integers");
        if (h < 1 || w < 1 || ids.Length != h * w)
            throw new ArgumentException($"{path}: shape [{h}, {w}] needs {h * w} tokens, the file has {ids.Length}");
        if (codebookSize is { } k && ids.Any(t => t < 0 || t >= k))
            throw new ArgumentException($"{path}: token id out of range: ids must lie in 0..{k - 1}");
        return new TokenGrid((int)h, (int)w, ids);
    }

    private static bool Integer(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value);
    }
}
