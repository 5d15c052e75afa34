using System.Text.Json;
using System.Text.Json.Nodes;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.IO;

/// <summary>
/// A token grid as the CLI reads and writes it: <c>{"shape":[H,W],"tokens":[...]}</c>, ids row-major.
/// </summary>
public sealed record TokenGrid(int H, int W, long[] Tokens)
{
    public void Save(string path)
    {
        var json = new JsonObject
        {
            ["shape"] = new JsonArray(H, W),
            ["tokens"] = new JsonArray(Tokens.Select(t => (JsonNode)t).ToArray()),
        };
        AtomicFile.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Reads and checks a token file; ids must lie in [0, codebookSize) when that is given.</summary>
    public static TokenGrid Load(string path, int? codebookSize = null)
    {
        if (!File.Exists(path)) throw new ArgumentException($"{path}: file not found");
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path}: not a token file ({e.Message})");
        }
        // Indexing a node by name throws unless it is an object: a top-level array or string is checked first.
        if (root is not JsonObject doc || doc["shape"] is not JsonArray shape || shape.Count != 2 || doc["tokens"] is not JsonArray tokens)
            throw new ArgumentException($"{path}: expected {{\"shape\":[H,W],\"tokens\":[...]}}");
        int h, w;
        long[] ids;
        try
        {
            h = shape[0]!.GetValue<int>();
            w = shape[1]!.GetValue<int>();
            ids = tokens.Select(t => t!.GetValue<long>()).ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new ArgumentException($"{path}: shape and tokens must be integers");
        }
        if (h < 1 || w < 1 || ids.Length != (long)h * w)
            throw new ArgumentException($"{path}: shape [{h}, {w}] needs {(long)h * w} tokens, the file has {ids.Length}");
        if (codebookSize is { } k && ids.Any(t => t < 0 || t >= k))
            throw new ArgumentException($"{path}: token id out of range: ids must lie in 0..{k - 1}");
        return new TokenGrid(h, w, ids);
    }
}
