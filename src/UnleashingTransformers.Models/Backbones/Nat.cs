using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>Where a NAT prior's tokens learn their place: only from rotary offsets between neighbours (<see cref="None"/>:
/// it runs on any grid, but cannot tell apart cells whose neighbourhoods look alike), or also from a learned absolute
/// position per cell of its training grid as the reference transformer and NAT Diffuser have (<see cref="Learned"/>:
/// it learns layouts bound to position, and runs on its training grid only, i.e. in a canvas's windows).</summary>
public enum NatPositions { None, Learned }

/// <summary>How a NAT prior's neighbourhoods lie: in 2-D on the token grid (<see cref="Grid"/>, ours: kernel x kernel
/// cells around each), or in 1-D on the flattened sequence as NAT Diffuser has them (<see cref="Flat"/>: its
/// <c>Hydra1DNeighborhoodAttention</c>, its keys, so its checkpoints load; see <see cref="FlatNeighborhoodAttention"/>).</summary>
public enum NatLayout { Grid, Flat }

/// <summary>
/// The neighborhood-attention prior's settings beyond the transformer's: the grid it was trained on (without
/// learned positions it runs on any), the kernel side, one dilation per head group, its positions and its layout.
/// Defaults as NAT Diffuser's: kernel 7; on the grid dilations 1 and 2 (hydra: half the heads see the near cells,
/// half a wider, sparser window), flat its 1, 4, 8, 16; flat has learned positions, as NAT Diffuser adds its
/// <c>pos_emb</c>.
/// </summary>
public sealed record NatConfig(TransformerConfig Transformer, int GridHeight, int GridWidth, int Kernel = NatConfig.DefaultKernel, int[]? Dilations = null,
    NatPositions? Positions = null, NatLayout Layout = NatLayout.Grid)
{
    public const int DefaultKernel = 7;

    public int[] HeadDilations => Dilations ?? (Layout == NatLayout.Flat ? [1, 4, 8, 16] : [1, 2]);

    public NatPositions HeadPositions => Positions ?? (Layout == NatLayout.Flat ? NatPositions.Learned : NatPositions.None);

    /// <summary>Whether the weights run on grids of other sizes than the trained one (a whole canvas at once).</summary>
    public bool AnyGrid => Layout == NatLayout.Grid && HeadPositions == NatPositions.None;

    public void Validate()
    {
        Transformer.Validate();
        if (GridHeight * GridWidth != Transformer.BlockSize)
            throw new ArgumentException($"grid {GridHeight}x{GridWidth} does not hold the window's {Transformer.BlockSize} tokens");
        if (HeadDilations.Length == 0 || HeadDilations.Any(d => d < 1) || Transformer.Heads % HeadDilations.Length != 0)
            throw new SettingException(SettingNames.Dilations, $"{string.Join(",", HeadDilations)}: one positive dilation per head group, and the {Transformer.Heads} heads split evenly among them");
        var headSize = Transformer.Emb / Transformer.Heads;
        if (Layout == NatLayout.Flat)
        {
            if (HeadPositions != NatPositions.Learned)
                throw new SettingException(SettingNames.Layout, $"flat is NAT Diffuser's model, which adds its learned pos_emb: leave out {SettingException.Ref(SettingNames.Positions)} none");
            if (headSize % 2 != 0) throw new SettingException(SettingNames.Width,
                $"{Transformer.Emb} / {SettingException.Ref(SettingNames.Heads)} {Transformer.Heads}: rotary positions need an even head size");
            foreach (var d in HeadDilations) Neighborhoods.Along(Transformer.BlockSize, Kernel, d).Dispose();
            return;
        }
        if (headSize % 4 != 0)
            throw new SettingException(SettingNames.Width, $"{Transformer.Emb} / {SettingException.Ref(SettingNames.Heads)} {Transformer.Heads}: 2-D rotary positions need a head size divisible by 4");
        foreach (var d in HeadDilations) Neighborhoods.Of(GridHeight, GridWidth, Kernel, d).Dispose();   // the trained grid must fit the neighbourhoods
    }
}

/// <summary>A pre-LN block with neighborhood attention, 2-D or flat (the transformer's block otherwise; same keys).</summary>
public sealed class NatBlock : nn.Module<(Tensor x, int height, int width), Tensor>
{
    public readonly nn.LayerNorm ln1, ln2;
    public readonly nn.Module<(Tensor x, int height, int width), Tensor> attn;
    public readonly nn.Sequential mlp;

    public NatBlock(NatConfig settings)
    {
        var c = settings.Transformer;
        ln1 = register_module("ln1", new nn.LayerNorm(c.Emb));
        attn = register_module<nn.Module<(Tensor x, int height, int width), Tensor>>("attn", settings.Layout == NatLayout.Flat
            ? new FlatNeighborhoodAttention(c, settings.Kernel, settings.HeadDilations)
            : new NeighborhoodAttention(c, settings.Kernel, settings.HeadDilations));
        ln2 = register_module("ln2", new nn.LayerNorm(c.Emb));
        mlp = register_module("mlp", FeedForward.Of(c));
    }

    public override Tensor forward((Tensor x, int height, int width) input) =>
        PreLayerNorm.Residual(input.x, ln1, h => attn.forward((h, input.height, input.width)), ln2, mlp);
}

/// <summary>
/// The absorbing prior with neighborhood attention (NAT Diffuser, after Hassani et al.): the paper's transformer
/// with each block's attention restricted to a kernel x kernel neighbourhood in 2-D over the token grid, heads in
/// dilation groups, and rotary positions. Without learned positions nothing in it depends on the grid's size, so
/// the weights trained on small windows run on a whole large canvas in one pass a step (<c>ut generate --whole</c>),
/// the route to big images beside window aggregation; with them (<see cref="NatPositions.Learned"/>, the reference's
/// <c>pos_emb</c> added to the token embeddings) it learns what lies where in its window. In the flat layout it is
/// NAT Diffuser's model, key for key (<c>start_tok</c> too, which their absorbing prior does not use). No time input,
/// as the paper's prior.
/// </summary>
public sealed class Nat : PriorNetwork
{
    public NatConfig Settings { get; }
    public readonly nn.Embedding tok_emb;
    /// <summary>Learned absolute positions over the training grid (null: none).</summary>
    public readonly Parameter? pos_emb;
    /// <summary>NAT Diffuser's autoregressive start token, unused by an absorbing prior; the flat layout keeps its key.</summary>
    public readonly Tensor? start_tok;
    public readonly nn.ModuleList<NatBlock> blocks;
    public readonly nn.LayerNorm ln_f;
    public readonly nn.Linear head;

    public Nat(NatConfig settings)
    {
        settings.Validate();
        Settings = settings;
        var c = settings.Transformer;
        tok_emb = register_module("tok_emb", new nn.Embedding(c.VocabSize, c.Emb));
        if (settings.HeadPositions == NatPositions.Learned) pos_emb = register_parameter("pos_emb", new Parameter(zeros(1, c.BlockSize, c.Emb)));
        if (settings.Layout == NatLayout.Flat) start_tok = register_buffer("start_tok", zeros(1, 1, c.Emb));
        blocks = register_module("blocks", new nn.ModuleList<NatBlock>(Enumerable.Range(0, c.Layers).Select(_ => new NatBlock(settings))));
        ln_f = register_module("ln_f", new nn.LayerNorm(c.Emb));
        head = register_module("head", new nn.Linear(c.Emb, c.CodebookSize, hasBias: false));
    }

    public override TransformerConfig Config => Settings.Transformer;
    public override PriorBackbone Backbone => NatBackbone.Instance;
    public override (int Height, int Width)? Grid => (Settings.GridHeight, Settings.GridWidth);

    /// <summary>Logits on the trained grid.</summary>
    public override Tensor forward(Tensor idx) => forward(idx, Settings.GridHeight, Settings.GridWidth);

    /// <summary>Logits (B, H·W, K) for token grids of any <paramref name="height"/> x <paramref name="width"/>
    /// (each side at least kernel x the largest dilation); with learned positions or the flat layout, the training grid only.</summary>
    public Tensor forward(Tensor idx, int height, int width)
    {
        using var scope = NewDisposeScope();
        if (idx.size(1) != (long)height * width) throw new ArgumentException($"{idx.size(1)} tokens are not a {height}x{width} grid");
        if (!Settings.AnyGrid && (height, width) != (Settings.GridHeight, Settings.GridWidth))
            throw new ArgumentException($"this nat prior {(Settings.Layout == NatLayout.Flat ? "attends along its flattened" : "learned positions on its")} " +
                $"{Settings.GridHeight}x{Settings.GridWidth} grid: " +
                $"it runs on that grid only (a canvas's windows), not on {height}x{width}; a whole canvas at once needs one trained with positions none on the grid layout");
        var x = tok_emb.forward(idx);
        if (pos_emb is not null) x = x + pos_emb;
        foreach (var block in blocks)
        {
            // Each layer's gathered neighbours (cells x K² x width) released before the next: on a whole
            // canvas they are the largest tensors of the pass.
            using var layer = NewDisposeScope();
            x = block.forward((x, height, width)).MoveToOuterDisposeScope();
        }
        return head.forward(ln_f.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>A denoiser over a grid of another size than the trained one: a whole canvas at once.</summary>
    public ITokenDenoiser DenoiserFor(int height, int width, Device device) => new NetworkDenoiser(idx => forward(idx, height, width), Config, height * width, device);

    public override (ITokenDenoiser denoiser, IDisposable? owned) Denoiser(InferencePrecision precision, Device device)
    {
        if (precision != InferencePrecision.Float32) throw new SettingException(SettingNames.Precision, $"{precision}: the nat backbone runs in float32 only");
        return (DenoiserFor(Settings.GridHeight, Settings.GridWidth, device), null);
    }
}

/// <summary>NAT as a backbone (<c>--model nat</c>): ours on the grid, or NAT Diffuser's flat layout, whose files it
/// recognizes and reads as they are.</summary>
public sealed class NatBackbone : PriorBackbone
{
    public static readonly NatBackbone Instance = new();
    private const string KernelKey = "kernel", DilationsKey = "dilations", PositionsKey = "positions", LayoutKey = "layout";

    public override string Name => "nat";
    public override string Description => "nat (neighborhood attention: 2-D with rotary positions, runs on any grid; or the flat layout, NAT Diffuser's)";
    public override IReadOnlyList<string> Settings => [SettingNames.Kernel, SettingNames.Dilations, SettingNames.Positions, SettingNames.Layout];

    private static NatConfig ConfigOf(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions o) =>
        new(config, gridHeight, gridWidth, o.Kernel, o.Dilations, o.Positions, o.Layout);

    public override PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) => new Nat(ConfigOf(config, gridHeight, gridWidth, options));

    public override void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) => ConfigOf(config, gridHeight, gridWidth, options).Validate();

    public override void Record(PriorNetwork network, PyDict entry)
    {
        var nat = (Nat)network;
        entry[KernelKey] = (long)nat.Settings.Kernel;
        entry[DilationsKey] = string.Join(",", nat.Settings.HeadDilations);
        entry[PositionsKey] = nat.Settings.HeadPositions.ToString().ToLowerInvariant();
        entry[LayoutKey] = nat.Settings.Layout.ToString().ToLowerInvariant();
    }

    public override PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
    {
        long Recorded(string key) => entry?.GetValueOrDefault(key) as long? ?? throw new ArgumentException($"a nat prior must record '{key}' in its metadata");
        if (entry?.GetValueOrDefault(PriorNetworks.ModelKey) is null && Recognizes(sd)) return NatDiffuserFromStateDict(sd);
        var (h, w) = ((int)Recorded(PriorNetworks.GridHeightKey), (int)Recorded(PriorNetworks.GridWidthKey));
        var layout = entry?.GetValueOrDefault(LayoutKey) is string l ? Enum.Parse<NatLayout>(l, ignoreCase: true) : NatLayout.Grid;   // files from before the record: the grid
        var dilations = (entry?.GetValueOrDefault(DilationsKey) as string ?? "1").Split(',').Select(int.Parse).ToArray();
        // Learned positions are the reference's key; files from before the record have none.
        var positions = sd.ContainsKey("pos_emb") ? NatPositions.Learned : NatPositions.None;
        if (entry?.GetValueOrDefault(PositionsKey) is string recorded && !string.Equals(recorded, positions.ToString(), StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"a nat prior that records positions {recorded} {(positions == NatPositions.Learned ? "holds" : "lacks")} the key 'pos_emb'");
        return new Nat(new NatConfig(NatTransformer(sd, heads, h * w), h, w, (int)Recorded(KernelKey), dilations, positions, layout));
    }

    /// <summary>A NAT Diffuser file (justin4ai/NAT-Diffuser, its sampler's or its network's state dict): the reference's
    /// transformer keys plus each block's rotary frequencies and unused relative position biases.</summary>
    public override bool Recognizes(IReadOnlyDictionary<string, Tensor> sd) => sd.ContainsKey("blocks.0.attn.rotary_emb.freqs") && sd.ContainsKey("blocks.0.attn.rpb.0");

    /// <summary>A NAT Diffuser network from its keys alone: their files record nothing, so the head count comes from
    /// the biases' shape (heads per group + 1 rows, a group a bias; a head count given is not needed), the kernel from
    /// their side (2·kernel - 1), the grid is square (theirs: 16x16), and the dilations are their module's fixed 1, 4, 8, 16.</summary>
    private static Nat NatDiffuserFromStateDict(IReadOnlyDictionary<string, Tensor> sd)
    {
        var groups = 0;
        while (sd.ContainsKey($"blocks.0.attn.rpb.{groups}")) groups++;
        var bias = sd["blocks.0.attn.rpb.0"].shape;
        var heads = (int)(bias[0] - 1) * groups;
        int[] dilations = [1, 4, 8, 16];
        if (groups != dilations.Length)
            throw new ArgumentException($"a NAT Diffuser prior with {groups} head groups: its dilations are not recorded, and NAT Diffuser's module has {dilations.Length} (1, 4, 8, 16)");
        var tokens = sd.TryGetValue("pos_emb", out var pos) ? (int)pos.shape[1] : throw new ArgumentException("not a NAT Diffuser prior: key 'pos_emb' missing");
        var side = (int)Math.Round(Math.Sqrt(tokens));
        if (side * side != tokens) throw new ArgumentException($"a NAT Diffuser prior of {tokens} positions: its grid is not recorded, and {tokens} is not a square");
        return new Nat(new NatConfig(NatTransformer(sd, heads, tokens), side, side, (int)(bias[1] + 1) / 2, dilations, NatPositions.Learned, NatLayout.Flat));
    }

    private static TransformerConfig NatTransformer(IReadOnlyDictionary<string, Tensor> sd, int heads, int tokens)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t : throw new ArgumentException($"not a nat prior: key '{key}' missing");
        var tok = Need("tok_emb.weight").shape;
        var layers = 0;
        while (sd.ContainsKey($"blocks.{layers}.ln1.weight")) layers++;
        return new TransformerConfig(CodebookSize: (int)tok[0] - 1, Emb: (int)tok[1], Heads: heads, Layers: layers, BlockSize: tokens,
            MlpHidden: (int)Need("blocks.0.mlp.0.weight").shape[0]);
    }
}
