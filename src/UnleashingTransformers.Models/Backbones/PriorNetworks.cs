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
    private const string ModelKey = "model", GridHeightKey = "grid_h", GridWidthKey = "grid_w", KernelKey = "kernel", DilationsKey = "dilations", ShortenKey = "shorten";

    /// <summary>"transformer", "dit", "uvit", "nat" or "sundae", as <c>--model</c> takes it.</summary>
    public static PriorBackbone Parse(string text) => text.ToLowerInvariant() switch
    {
        "transformer" => PriorBackbone.Transformer,
        "dit" => PriorBackbone.Dit,
        "uvit" => PriorBackbone.Uvit,
        "nat" => PriorBackbone.Nat,
        "sundae" => PriorBackbone.Sundae,
        _ => throw new ArgumentException($"--model {text}: expected transformer, dit, uvit, nat or sundae"),
    };

    public static string Name(PriorBackbone backbone) => backbone.ToString().ToLowerInvariant();

    /// <summary>A fresh network of <paramref name="backbone"/> for a <paramref name="gridHeight"/> x <paramref name="gridWidth"/> window.</summary>
    public static PriorNetwork Create(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions? options = null)
    {
        var o = options ?? new BackboneOptions();
        Check(backbone, config, gridHeight, gridWidth, o);
        return backbone switch
        {
            PriorBackbone.Dit => new Dit(new VitConfig(config, gridHeight, gridWidth, o.Patch)),
            PriorBackbone.Uvit => new Uvit(new VitConfig(config, gridHeight, gridWidth, o.Patch)),
            PriorBackbone.Nat => new Nat(new NatConfig(config, gridHeight, gridWidth, o.Kernel, o.Dilations)),
            PriorBackbone.Sundae => new Hourglass(HourglassOf(config, gridHeight, gridWidth, o)),
            _ => new Transformer.Transformer(config),
        };
    }

    /// <summary>Throws ArgumentException, naming the flag, when <see cref="Create"/> would refuse these settings.</summary>
    public static void Check(PriorBackbone backbone, TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions? options = null)
    {
        var (o, unset) = (options ?? new BackboneOptions(), new BackboneOptions());
        if (o.Patch != unset.Patch && backbone is not (PriorBackbone.Dit or PriorBackbone.Uvit)) throw new ArgumentException("--patch is for --model dit and uvit");
        if ((o.Kernel != unset.Kernel || o.Dilations is not null) && backbone != PriorBackbone.Nat) throw new ArgumentException("--kernel and --dilations are for --model nat");
        if ((o.Depth is not null || o.Shorten != unset.Shorten) && backbone != PriorBackbone.Sundae)
            throw new ArgumentException("--shorten and an hourglass depth (--layers pre-valley-post) are for --model sundae; the other models take --layers N");
        if (backbone == PriorBackbone.Uvit) Uvit.Validate(new VitConfig(config, gridHeight, gridWidth, o.Patch));
        else if (backbone == PriorBackbone.Dit) new VitConfig(config, gridHeight, gridWidth, o.Patch).Validate();
        else if (backbone == PriorBackbone.Nat) new NatConfig(config, gridHeight, gridWidth, o.Kernel, o.Dilations).Validate();
        else if (backbone == PriorBackbone.Sundae) HourglassOf(config, gridHeight, gridWidth, o).Validate();
    }

    /// <summary>The hourglass for these settings: its depth from <see cref="BackboneOptions.Depth"/>, the layer count
    /// in <paramref name="config"/> being their sum.</summary>
    private static HourglassConfig HourglassOf(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions o)
    {
        var (pre, valley, post) = HourglassConfig.ParseDepth(o.Depth ?? HourglassConfig.DefaultDepth);
        return new HourglassConfig(config with { Layers = pre + valley + post }, gridHeight, gridWidth, pre, valley, post, o.Shorten);
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
        if (network is Hourglass hourglass) entry[ShortenKey] = (long)hourglass.Settings.Shorten;
    }

    /// <summary>The network a denoiser state dict (keys without the prefix) and its metadata entry describe.</summary>
    public static PriorNetwork FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        var model = entry?.GetValueOrDefault(ModelKey) as string ?? Name(PriorBackbone.Transformer);
        var backbone = Parse(model);
        if (backbone == PriorBackbone.Transformer) return new Transformer.Transformer(TransformerConfig.FromStateDict(sd, heads));
        if (backbone == PriorBackbone.Nat) return NatFromStateDict(sd, heads, entry);
        if (backbone == PriorBackbone.Sundae) return HourglassFromStateDict(sd, heads, entry);

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

    /// <summary>An hourglass from its keys (the reference's own, so a SUNDAE-VQGAN <c>net.state_dict()</c> reads too): depths
    /// by counting layers, k from the downsampling's width, the head size from the query's; the grid is recorded, or a
    /// square. The reference's rotary frequencies are fixed, not learned: a file without them gets them computed.</summary>
    public static Hourglass HourglassFromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t : throw new ArgumentException($"not a sundae prior: key '{key}' missing");
        int Depth(string stage)
        {
            var n = 0;
            while (sd.ContainsKey($"transformer.{stage}.layers.{n}.0.norm.weight")) n++;
            return n;
        }
        var tok = Need("token_emb.weight").shape;
        var (emb, shorten) = ((int)tok[1], (int)(Need("transformer.downsample.proj.weight").shape[1] / tok[1]));
        var inner = (int)Need("transformer.valley_transformer.layers.0.0.fn.to_q.weight").shape[0];
        if (inner % heads != 0) throw new ArgumentException($"the attention is {inner} wide, which {heads} heads do not divide: give the head count the prior was trained with (--heads)");
        var (h, w) = (entry?.GetValueOrDefault(GridHeightKey) as long?, entry?.GetValueOrDefault(GridWidthKey) as long?) is ({ } gh, { } gw)
            ? ((int)gh, (int)gw)
            : SquareGridOf(sd, shorten);
        var (pre, valley, post) = (Depth("pre_transformer"), Depth("valley_transformer"), Depth("post_transformer"));
        var config = new TransformerConfig(CodebookSize: (int)tok[0], Emb: emb, Heads: heads, Layers: pre + valley + post, BlockSize: h * w);
        return new Hourglass(new HourglassConfig(config, h, w, pre, valley, post, shorten, inner / heads));
    }

    /// <summary>The reference's grid, which its files do not record: square, and the valley's rotary frequencies end at
    /// π·max_freq/2 with max_freq = sqrt(tokens / k), so the side is max_freq·√k.</summary>
    private static (int, int) SquareGridOf(IReadOnlyDictionary<string, Tensor> sd, int shorten)
    {
        if (!sd.TryGetValue("transformer.valley_transformer.rotary_pos_emb.freqs", out var freqs) || freqs.numel() == 0)
            throw new ArgumentException("a sundae prior must record its grid (grid_h, grid_w) or hold the valley's rotary frequencies");
        var maxFreq = (int)Math.Round(2 * freqs[-1].item<float>() / Math.PI);
        var side = maxFreq * (int)Math.Round(Math.Sqrt(shorten));
        return (side, side);
    }
}
