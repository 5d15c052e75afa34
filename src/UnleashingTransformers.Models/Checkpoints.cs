using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models;

/// <summary>What every checkpoint loader of the project does the same way.</summary>
internal static class Checkpoints
{
    /// <summary>Reads a file's state dict, builds from it, and releases the file's tensors.</summary>
    public static T FromFile<T>(string path, Func<IReadOnlyDictionary<string, Tensor>, T> build) => FromFile(path, (sd, _) => build(sd));

    /// <summary>The same, giving <paramref name="build"/> the state dict's <c>_metadata</c> too (null if none).</summary>
    public static T FromFile<T>(string path, Func<IReadOnlyDictionary<string, Tensor>, PyDict?, T> build)
    {
        var sd = torch.load_state_dict(path, out var metadata);
        try
        {
            return build(sd, metadata);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }

    /// <summary>"found a, b, c, d, ..." for an error saying what a file is not.</summary>
    public static string Found(IReadOnlyDictionary<string, Tensor> sd) =>
        $"found {string.Join(", ", sd.Keys.Take(4))}{(sd.Count > 4 ? ", ..." : "")}";

    /// <summary>Loads weights into a freshly built model; a mismatch disposes it and becomes one error
    /// naming the source. Then moves it to the device, in eval mode.</summary>
    public static T Fill<T>(T model, Action<T> load, string source, Device? device) where T : torch.nn.Module
    {
        try
        {
            load(model);
        }
        catch (Exception e) when (e is TorchException or ArgumentException)
        {
            model.Dispose();
            throw new ArgumentException(e.Message.StartsWith(source) ? e.Message : $"{source}: {e.Message}");
        }
        if (device is { } d) model.to(d);
        model.eval();
        return model;
    }
}
