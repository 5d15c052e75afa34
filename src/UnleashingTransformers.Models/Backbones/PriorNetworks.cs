using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The backbones, registered once (<see cref="All"/>), and what is common to them: finding one by name, refusing a
/// setting given to a backbone it is not for, recording the backbone in a checkpoint (the denoiser's
/// <c>_metadata</c> entry, beside PyTorch's "version", as the head count is) and reading it back. A file that
/// records no backbone and that no backbone recognizes is the paper's transformer.
/// </summary>
public static class PriorNetworks
{
    internal const string ModelKey = "model", GridHeightKey = "grid_h", GridWidthKey = "grid_w";

    /// <summary>Every backbone, the paper's first: adding one is its file and a line here.</summary>
    public static readonly IReadOnlyList<PriorBackbone> All =
    [
        TransformerBackbone.Instance,
        DitBackbone.Instance,
        UvitBackbone.Instance,
        NatBackbone.Instance,
        HourglassBackbone.Instance,
    ];

    public static PriorBackbone Default => All[0];

    /// <summary>A backbone by its name, as <c>--model</c> takes it.</summary>
    public static PriorBackbone Parse(string text) =>
        All.FirstOrDefault(b => string.Equals(b.Name, text, StringComparison.OrdinalIgnoreCase))
        ?? throw new SettingException(SettingNames.Backbone, $"{text}: expected {Names(All)}");

    /// <summary>"a, b and c" (for messages and help).</summary>
    public static string Names(IEnumerable<PriorBackbone> backbones)
    {
        var names = backbones.Select(b => b.Name).ToList();
        return names.Count <= 1 ? string.Concat(names) : $"{string.Join(", ", names[..^1])} or {names[^1]}";
    }

    /// <summary>A fresh network of <paramref name="backbone"/> for a <paramref name="gridHeight"/> x <paramref name="gridWidth"/> window.</summary>
    public static PriorNetwork Create(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions? options = null)
    {
        var o = options ?? new BackboneOptions();
        Check(backbone, config, gridHeight, gridWidth, o);
        return backbone.Create(config, gridHeight, gridWidth, o);
    }

    /// <summary>Throws SettingException when <see cref="Create"/> would refuse these settings: a setting
    /// for other backbones (named with the settings they share), or one the backbone refuses.</summary>
    public static void Check(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions? options = null)
    {
        var o = options ?? new BackboneOptions();
        foreach (var setting in o.Given())
        {
            if (backbone.Settings.Contains(setting)) continue;
            var takers = All.Where(b => b.Settings.Contains(setting)).ToList();
            var shared = BackboneOptions.Settings.Where(f => All.Where(b => b.Settings.Contains(f)).SequenceEqual(takers)).ToList();
            // "kernel, dilations, positions and layout are for backbone nat": all that the same backbones take, the first leading
            var rest = shared.Skip(1).Select(SettingException.Ref).ToList();
            var are = rest.Count switch { 0 => "is", 1 => $"and {rest[0]} are", _ => $", {string.Join(", ", rest[..^1])} and {rest[^1]} are" };
            throw new SettingException(shared[0], $"{are} for {SettingException.Ref(SettingNames.Backbone)} {string.Join(" and ", takers.Select(b => b.Name))}");
        }
        backbone.Validate(config, gridHeight, gridWidth, o);
    }

    /// <summary>Writes what rebuilding <paramref name="network"/> needs beyond its shapes into the denoiser's metadata entry.</summary>
    public static void Record(PriorNetwork network, PyDict entry)
    {
        if (network.Grid is not { } grid) return;   // the transformer records nothing: the paper's files are read as they are
        entry[ModelKey] = network.Backbone.Name;
        entry[GridHeightKey] = (long)grid.Height;
        entry[GridWidthKey] = (long)grid.Width;
        network.Backbone.Record(network, entry);
    }

    /// <summary>The grid a checkpoint records (null: none).</summary>
    internal static (int Height, int Width)? RecordedGrid(PyDict? entry) =>
        (entry?.GetValueOrDefault(GridHeightKey) as long?, entry?.GetValueOrDefault(GridWidthKey) as long?) is ({ } h, { } w) ? ((int)h, (int)w) : null;

    /// <summary>The backbone of a file that records none: one that recognizes its keys (another project's files), or null.</summary>
    public static PriorBackbone? Recognized(IReadOnlyDictionary<string, Tensor> sd) => All.FirstOrDefault(b => b.Recognizes(sd));

    /// <summary>The network a denoiser state dict (keys without the prefix) and its metadata entry describe.</summary>
    public static PriorNetwork FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        var backbone = entry?.GetValueOrDefault(ModelKey) is string name ? Parse(name) : Recognized(sd) ?? Default;
        return backbone.Read(sd, heads, entry);
    }
}
