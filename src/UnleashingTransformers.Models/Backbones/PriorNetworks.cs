using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The one place that knows every backbone: building one for training, recording it in a checkpoint (the
/// denoiser's <c>_metadata</c> entry, beside PyTorch's "version", as the head count is), and rebuilding it from a
/// file's shapes and record. A file that records no backbone is the paper's transformer.
/// </summary>
public static class PriorNetworks
{
    private const string ModelKey = "model", GridHeightKey = "grid_h", GridWidthKey = "grid_w", KernelKey = "kernel", DilationsKey = "dilations";

    /// <summary>"transformer", "dit", "uvit" or "nat", as <c>--model</c> takes it.</summary>
    public static PriorBackbone Parse(string text) => text.ToLowerInvariant() switch
    {
        "transformer" => PriorBackbone.Transformer,
        "dit" => PriorBackbone.Dit,
        "uvit" => PriorBackbone.Uvit,
        "nat" => PriorBackbone.Nat,
        _ => throw new ArgumentException($"--model {text}: expected transformer, dit, uvit or nat"),
    };

    public static string Name(PriorBackbone backbone) => backbone.ToString().ToLowerInvariant();

    /// <summary>A fresh network of <paramref name="backbone"/> for a <paramref name="gridHeight"/> x <paramref name="gridWidth"/> window.</summary>
    public static PriorNetwork Create(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, int patch = 1, int kernel = NatConfig.DefaultKernel, int[]? dilations = null)
    {
        Check(backbone, config, gridHeight, gridWidth, patch, kernel, dilations);
        return backbone switch
        {
            PriorBackbone.Dit => new Dit(new VitConfig(config, gridHeight, gridWidth, patch)),
            PriorBackbone.Uvit => new Uvit(new VitConfig(config, gridHeight, gridWidth, patch)),
            PriorBackbone.Nat => new Nat(new NatConfig(config, gridHeight, gridWidth, kernel, dilations)),
            _ => new Transformer.Transformer(config),
        };
    }

    /// <summary>Throws ArgumentException, naming the flag, when <see cref="Create"/> would refuse these settings.</summary>
    public static void Check(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, int patch = 1, int kernel = NatConfig.DefaultKernel, int[]? dilations = null)
    {
        if (patch != 1 && backbone is not (PriorBackbone.Dit or PriorBackbone.Uvit)) throw new ArgumentException("--patch is for --model dit and uvit");
        if ((kernel != NatConfig.DefaultKernel || dilations is not null) && backbone != PriorBackbone.Nat) throw new ArgumentException("--kernel and --dilations are for --model nat");
        if (backbone == PriorBackbone.Uvit) Uvit.Validate(new VitConfig(config, gridHeight, gridWidth, patch));
        else if (backbone == PriorBackbone.Dit) new VitConfig(config, gridHeight, gridWidth, patch).Validate();
        else if (backbone == PriorBackbone.Nat) new NatConfig(config, gridHeight, gridWidth, kernel, dilations).Validate();
    }

    /// <summary>Writes what rebuilding <paramref name="network"/> needs beyond its shapes into the denoiser's metadata entry.</summary>
    public static void Record(PriorNetwork network, PyDict entry)
    {
        if (network.Grid is not { } grid) return;   // the transformer records nothing: the paper's files are read as they are
        entry[ModelKey] = Name(network.Backbone);
        entry[GridHeightKey] = (long)grid.Height;
        entry[GridWidthKey] = (long)grid.Width;
        if (network is Nat nat)
        {
            entry[KernelKey] = (long)nat.Settings.Kernel;
            entry[DilationsKey] = string.Join(",", nat.Settings.HeadDilations);
        }
    }

    /// <summary>The network a denoiser state dict (keys without the prefix) and its metadata entry describe.</summary>
    public static PriorNetwork FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        var model = entry?.GetValueOrDefault(ModelKey) as string ?? Name(PriorBackbone.Transformer);
        var backbone = Parse(model);
        if (backbone == PriorBackbone.Transformer) return new Transformer.Transformer(TransformerConfig.FromStateDict(sd, heads));
        if (backbone == PriorBackbone.Nat) return NatFromStateDict(sd, heads, entry);

        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t : throw new ArgumentException($"not a {model} prior: key '{key}' missing");
        var tok = Need("tok_emb.weight").shape;
        var patches = (int)Need("pos_emb").shape[1] - (backbone == PriorBackbone.Uvit ? 1 : 0);   // UViT's time token
        var patchArea = (int)(Need("x_embedder.weight").shape[1] / tok[1]);
        var patch = (int)Math.Round(Math.Sqrt(patchArea));
        var layers = 0;
        if (backbone == PriorBackbone.Dit)
            while (sd.ContainsKey($"blocks.{layers}.adaLN_modulation.1.weight")) layers++;
        else
            while (sd.ContainsKey($"in_blocks.{layers / 2}.ln1.weight")) layers += 2;   // as many out blocks, and the middle one
        var tokens = patches * patchArea;
        var (h, w) = (entry?.GetValueOrDefault(GridHeightKey) as long?, entry?.GetValueOrDefault(GridWidthKey) as long?) is ({ } gh, { } gw)
            ? ((int)gh, (int)gw)
            : ((int)Math.Round(Math.Sqrt(tokens)), (int)Math.Round(Math.Sqrt(tokens)));
        var config = new TransformerConfig(CodebookSize: (int)tok[0] - 1, Emb: (int)tok[1], Heads: heads, Layers: layers, BlockSize: tokens,
            MlpHidden: (int)Need(backbone == PriorBackbone.Dit ? "blocks.0.mlp.0.weight" : "mid_block.mlp.0.weight").shape[0]);
        var settings = new VitConfig(config, h, w, patch);
        return backbone == PriorBackbone.Dit ? new Dit(settings) : new Uvit(settings);
    }

    private static Nat NatFromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t : throw new ArgumentException($"not a nat prior: key '{key}' missing");
        long Recorded(string key) => entry?.GetValueOrDefault(key) as long? ?? throw new ArgumentException($"a nat prior must record '{key}' in its metadata");
        var tok = Need("tok_emb.weight").shape;
        var layers = 0;
        while (sd.ContainsKey($"blocks.{layers}.ln1.weight")) layers++;
        var (h, w) = ((int)Recorded(GridHeightKey), (int)Recorded(GridWidthKey));
        var dilations = (entry?.GetValueOrDefault(DilationsKey) as string ?? "1").Split(',').Select(int.Parse).ToArray();
        var config = new TransformerConfig(CodebookSize: (int)tok[0] - 1, Emb: (int)tok[1], Heads: heads, Layers: layers, BlockSize: h * w,
            MlpHidden: (int)Need("blocks.0.mlp.0.weight").shape[0]);
        return new Nat(new NatConfig(config, h, w, (int)Recorded(KernelKey), dilations));
    }
}
