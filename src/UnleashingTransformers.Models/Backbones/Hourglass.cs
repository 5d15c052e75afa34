using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// SUNDAE-VQGAN's hourglass transformer (McKinney and Willcocks 2022, after lucidrains' hourglass-transformer):
/// <see cref="Pre"/> layers on the token grid, <see cref="Valley"/> layers on a grid shortened <see cref="Shorten"/>
/// times, <see cref="Post"/> layers back on the full grid. Defaults are the reference's FFHQ-256 net ("2-10-2",
/// k = 4, 64 per head, rotary positions). The shortening merges √k x √k blocks of the grid, SUNDAE's fix for
/// images, so the grid's sides must be multiples of √k.
/// </summary>
public sealed record HourglassConfig(TransformerConfig Transformer, int GridHeight, int GridWidth, int Pre = 2, int Valley = 10, int Post = 2, int Shorten = HourglassConfig.DefaultShorten,
    int DimHead = 64)
{
    public const string DefaultDepth = "2-10-2";
    public const int DefaultShorten = 4;

    /// <summary>√k: the side of the blocks merged into one valley token.</summary>
    public int Side => (int)Math.Round(Math.Sqrt(Shorten));
    public int Inner => Transformer.Heads * DimHead;
    public string Depth => $"{Pre}-{Valley}-{Post}";

    /// <summary>"pre-valley-post", as <c>--layers</c> takes it for <c>--model sundae</c> (the reference writes 2-10-2 as "2102").</summary>
    public static (int Pre, int Valley, int Post) ParseDepth(string spec)
    {
        var parts = spec.Split('-');
        if (parts.Length != 3 || !parts.All(p => int.TryParse(p, out var n) && n >= 0) || int.Parse(parts[1]) < 1)
            throw new SettingException(SettingNames.Layers, $"{spec}: SUNDAE's hourglass depth is pre-valley-post, e.g. 2-10-2 (valley >= 1)");
        return (int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
    }

    public void Validate()
    {
        Transformer.Validate();
        if (GridHeight * GridWidth != Transformer.BlockSize)
            throw new ArgumentException($"grid {GridHeight}x{GridWidth} does not hold the window's {Transformer.BlockSize} tokens");
        if (Pre < 0 || Valley < 1 || Post < 0) throw new ArgumentException($"hourglass depth {Depth}: the valley needs a layer, the others none or more");
        if (Shorten < 1 || Side * Side != Shorten)
            throw new SettingException(SettingNames.Shorten, $"{Shorten}: the shortening merges square blocks of the grid, so it must be a square (4, 9, 16)");
        if (GridHeight % Side != 0 || GridWidth % Side != 0)
            throw new SettingException(SettingNames.Shorten, $"{Shorten} merges {Side}x{Side} blocks of the grid {GridHeight}x{GridWidth}, so both sides must be multiples of {Side}");
        if (DimHead < 4 || DimHead % 4 != 0) throw new ArgumentException($"head size {DimHead}: 2-D rotary positions need a multiple of 4");
    }
}

/// <summary>
/// Rotary positions as the reference's <c>RotaryEmbedding(freqs_for="pixel")</c> over a 2-D grid: each axis's
/// positions spread over [-1, 1], frequencies π·linspace(1, max_freq/2, dim/2), each repeated for an interleaved
/// pair; rows' angles then columns' fill the first 2·dim channels. The frequencies are a buffer, as the
/// reference's checkpoints hold them.
/// </summary>
public sealed class PixelRotary : nn.Module
{
    public readonly Tensor freqs;

    public PixelRotary(int dim, int maxFreq)
    {
        freqs = register_buffer("freqs", linspace(1, maxFreq / 2.0, dim / 2) * Math.PI);
    }

    /// <summary>cos and sin of the angles, (height·width, 4·freqs), for <see cref="RotaryPairs.Apply"/>.</summary>
    public (Tensor cos, Tensor sin) Angles(int height, int width)
    {
        var f = freqs.to(float32);
        var rows = RotaryPairs.Interleaved(linspace(-1, 1, height, float32, f.device).unsqueeze(1) * f);   // (H, dim)
        var cols = RotaryPairs.Interleaved(linspace(-1, 1, width, float32, f.device).unsqueeze(1) * f);    // (W, dim)
        var d = rows.size(1);
        var grid = cat(new[] { rows.unsqueeze(1).expand(height, width, d), cols.unsqueeze(0).expand(height, width, d) }, -1)
            .reshape(height * width, 2 * d);
        return (grid.cos(), grid.sin());
    }
}

/// <summary>The reference's attention: q and kv projections without bias, heads x DimHead wide; rotary on q and k
/// when the sequence attends to itself; attends to <c>context</c> instead when given (attention resampling).</summary>
public sealed class HourglassAttention : nn.Module<(Tensor x, Tensor? context, (Tensor cos, Tensor sin)? rotary), Tensor>
{
    private readonly int _heads, _dimHead;
    public readonly nn.Linear to_q, to_kv, to_out;

    public HourglassAttention(HourglassConfig c)
    {
        (_heads, _dimHead) = (c.Transformer.Heads, c.DimHead);
        to_q = register_module("to_q", new nn.Linear(c.Transformer.Emb, c.Inner, hasBias: false));
        to_kv = register_module("to_kv", new nn.Linear(c.Transformer.Emb, 2 * c.Inner, hasBias: false));
        to_out = register_module("to_out", new nn.Linear(c.Inner, c.Transformer.Emb));
    }

    public override Tensor forward((Tensor x, Tensor? context, (Tensor cos, Tensor sin)? rotary) input)
    {
        var (x, context, rotary) = input;
        var q = to_q.forward(x);
        var kv = to_kv.forward(context ?? x).chunk(2, -1);
        var k = kv[0];
        if (rotary is { } angles && context is null) (q, k) = (RotaryPairs.Apply(q, angles), RotaryPairs.Apply(k, angles));
        Tensor Heads(Tensor t) => t.reshape(t.size(0), t.size(1), _heads, _dimHead).transpose(1, 2);
        var attn = (Heads(q) * Math.Pow(_dimHead, -0.5)).matmul(Heads(k).transpose(-2, -1)).softmax(-1);
        var y = attn.matmul(Heads(kv[1])).transpose(1, 2);
        return to_out.forward(y.reshape(y.size(0), y.size(1), _heads * _dimHead));
    }
}

/// <summary>One layer of the reference's transformer: pre-norm attention ("0") and pre-norm feed-forward ("1"),
/// each added to its input; the context, when there is one, is attended to unnormalised.</summary>
public sealed class HourglassLayer : nn.Module<(Tensor x, Tensor? context, (Tensor cos, Tensor sin)? rotary), Tensor>
{
    private readonly PreNorm<HourglassAttention> _attn;
    private readonly PreNorm<nn.Sequential> _ff;

    public HourglassLayer(HourglassConfig c)
    {
        var e = c.Transformer.Emb;
        _attn = register_module("0", new PreNorm<HourglassAttention>(e, new HourglassAttention(c)));
        // FeedForward(dim, mult 4): Linear, GELU, Dropout (0), Linear: the reference's indices 0 and 3.
        _ff = register_module("1", new PreNorm<nn.Sequential>(e, new nn.Sequential(new nn.Linear(e, 4 * e), new nn.GELU(), new nn.Dropout(0), new nn.Linear(4 * e, e))));
    }

    public override Tensor forward((Tensor x, Tensor? context, (Tensor cos, Tensor sin)? rotary) input)
    {
        var x = input.x + _attn.fn.forward((_attn.norm.forward(input.x), input.context, input.rotary));
        return x + _ff.fn.forward(_ff.norm.forward(x));
    }
}

/// <summary>A LayerNorm and the function it feeds (the reference's PreNormResidual; the residual is the caller's).</summary>
public sealed class PreNorm<T> : nn.Module where T : nn.Module
{
    public readonly nn.LayerNorm norm;
    public readonly T fn;

    public PreNorm(int dim, T function)
    {
        norm = register_module("norm", new nn.LayerNorm(dim));
        fn = register_module("fn", function);
    }
}

/// <summary>A stack of <see cref="HourglassLayer"/>s with its rotary positions (the reference's <c>Transformer</c>).</summary>
public sealed class HourglassStage : nn.Module
{
    public readonly nn.ModuleList<HourglassLayer> layers;
    public readonly PixelRotary rotary_pos_emb;

    /// <param name="maxFreq">The reference's int(sqrt(max_seq_len)): 16 for every stage but the valley's.</param>
    public HourglassStage(HourglassConfig c, int depth, int maxFreq = 16)
    {
        layers = register_module("layers", new nn.ModuleList<HourglassLayer>(Enumerable.Range(0, depth).Select(_ => new HourglassLayer(c))));
        rotary_pos_emb = register_module("rotary_pos_emb", new PixelRotary(c.DimHead / 2, maxFreq));
    }

    /// <summary>The layers over a <paramref name="height"/> x <paramref name="width"/> grid, rotary positions on.</summary>
    public Tensor forward(Tensor x, int height, int width)
    {
        var angles = rotary_pos_emb.Angles(height, width);
        foreach (var layer in layers) x = layer.forward((x, null, angles));
        return x;
    }

    /// <summary>The layers attending to <paramref name="context"/> (attention resampling: no positions).</summary>
    public Tensor forward(Tensor x, Tensor context)
    {
        foreach (var layer in layers) x = layer.forward((x, context, null));
        return x;
    }
}

/// <summary>The shortening: √k x √k blocks of the grid concatenated channel-wise ("b (h sh) (w sw) d -> b h w (d sh sw)")
/// and projected to one token; the lengthening is its mirror.</summary>
public sealed class BlockResampling(int side)
{
    public Tensor Merge(Tensor x, int height, int width)
    {
        var (b, d) = (x.size(0), x.size(2));
        return x.reshape(b, height / side, side, width / side, side, d).permute(0, 1, 3, 5, 2, 4)
            .reshape(b, height / side * (width / side), d * side * side);
    }

    /// <summary><paramref name="x"/> (B, n/k, d·k) back to (B, n, d) on the <paramref name="height"/> x <paramref name="width"/> grid.</summary>
    public Tensor Split(Tensor x, int height, int width)
    {
        var b = x.size(0);
        var d = x.size(2) / (side * side);
        return x.reshape(b, height / side, width / side, d, side, side).permute(0, 1, 4, 2, 5, 3).reshape(b, height * width, d);
    }
}

/// <summary>The reference's <c>LinearDownsample</c> (pixel path): merged blocks projected k·d -> d.</summary>
public sealed class LinearDownsample : nn.Module
{
    private readonly BlockResampling _blocks;
    public readonly nn.Linear proj;

    public LinearDownsample(HourglassConfig c)
    {
        _blocks = new BlockResampling(c.Side);
        proj = register_module("proj", new nn.Linear(c.Transformer.Emb * c.Shorten, c.Transformer.Emb));
    }

    public Tensor forward(Tensor x, int height, int width) => proj.forward(_blocks.Merge(x, height, width));
}

/// <summary>The reference's <c>LinearUpsample</c> (pixel path): d -> k·d, each valley token spread back over its block.</summary>
public sealed class LinearUpsample : nn.Module
{
    private readonly BlockResampling _blocks;
    public readonly nn.Linear proj;

    public LinearUpsample(HourglassConfig c)
    {
        _blocks = new BlockResampling(c.Side);
        proj = register_module("proj", new nn.Linear(c.Transformer.Emb, c.Transformer.Emb * c.Shorten));
    }

    public Tensor forward(Tensor x, int height, int width) => _blocks.Split(proj.forward(x), height, width);
}

/// <summary>
/// The reference's <c>HourglassTransformer</c> (non-causal, no padding: the grid divides): pre layers; the
/// shortened copy, whose tokens then attend to the k tokens they stand for (attention resampling); the valley; the
/// lengthened valley added to the pre layers' output, attending back to its valley token; post layers; a norm.
/// The resampling attention groups k consecutive raster tokens, as the reference does, while the linear
/// resampling merges 2-D blocks: kept so that its checkpoints mean the same here.
/// </summary>
public sealed class HourglassTransformer : nn.Module
{
    private readonly HourglassConfig _c;
    public readonly LinearDownsample downsample;
    public readonly LinearUpsample upsample;
    public readonly HourglassStage valley_transformer, attn_resampling_pre_valley, attn_resampling_post_valley, pre_transformer, post_transformer;
    public readonly nn.LayerNorm norm_out;

    public HourglassTransformer(HourglassConfig c)
    {
        _c = c;
        downsample = register_module("downsample", new LinearDownsample(c));
        upsample = register_module("upsample", new LinearUpsample(c));
        valley_transformer = register_module("valley_transformer", new HourglassStage(c, c.Valley, (int)Math.Sqrt(c.Transformer.BlockSize / c.Shorten)));
        attn_resampling_pre_valley = register_module("attn_resampling_pre_valley", new HourglassStage(c, 1));
        attn_resampling_post_valley = register_module("attn_resampling_post_valley", new HourglassStage(c, 1));
        pre_transformer = register_module("pre_transformer", new HourglassStage(c, c.Pre));
        post_transformer = register_module("post_transformer", new HourglassStage(c, c.Post));
        norm_out = register_module("norm_out", new nn.LayerNorm(c.Transformer.Emb));
    }

    public Tensor forward(Tensor x)
    {
        var (h, w, k) = (_c.GridHeight, _c.GridWidth, _c.Shorten);
        var (b, n, d) = (x.size(0), x.size(1), x.size(2));
        var (vh, vw) = (h / _c.Side, w / _c.Side);
        x = pre_transformer.forward(x, h, w);
        var residual = x;
        var shortened = downsample.forward(x, h, w);                                           // (B, n/k, d)
        shortened = attn_resampling_pre_valley.forward(shortened.reshape(b * n / k, 1, d), x.reshape(b * n / k, k, d)).reshape(b, n / k, d);
        var valley = valley_transformer.forward(shortened, vh, vw);
        x = upsample.forward(valley, h, w) + residual;
        x = attn_resampling_post_valley.forward(x.reshape(b * n / k, k, d), valley.reshape(b * n / k, 1, d)).reshape(b, n, d);
        return norm_out.forward(post_transformer.forward(x, h, w));
    }
}

/// <summary>
/// SUNDAE's prior network (the reference's <c>HourglassTransformerLM</c> with rotary positions, unconditional):
/// token embedding over the codebook (no mask token: SUNDAE corrupts with random tokens), the hourglass, logits.
/// Keys as the reference's, so its checkpoints load.
/// </summary>
public sealed class Hourglass : PriorNetwork
{
    public HourglassConfig Settings { get; }
    public readonly nn.Embedding token_emb;
    public readonly HourglassTransformer transformer;
    public readonly nn.Linear to_logits;

    public Hourglass(HourglassConfig settings)
    {
        settings.Validate();
        Settings = settings;
        var c = settings.Transformer;
        token_emb = register_module("token_emb", new nn.Embedding(c.CodebookSize, c.Emb));
        transformer = register_module("transformer", new HourglassTransformer(settings));
        to_logits = register_module("to_logits", new nn.Linear(c.Emb, c.CodebookSize));
    }

    public override TransformerConfig Config => Settings.Transformer;
    public override PriorBackbone Backbone => HourglassBackbone.Instance;
    public override (int Height, int Width)? Grid => (Settings.GridHeight, Settings.GridWidth);

    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        if (idx.size(1) != Config.BlockSize) throw new ArgumentException($"{idx.size(1)} tokens are not the hourglass's {Settings.GridHeight}x{Settings.GridWidth} grid");
        return to_logits.forward(transformer.forward(token_emb.forward(idx))).MoveToOuterDisposeScope();
    }
}

/// <summary>SUNDAE's hourglass as a backbone (<c>--model sundae</c>): uniform corruption, step-unrolled training,
/// <c>--layers PRE-VALLEY-POST</c>; it recognizes SUNDAE-VQGAN's bare network files.</summary>
public sealed class HourglassBackbone : PriorBackbone
{
    public static readonly HourglassBackbone Instance = new();
    private const string ShortenKey = "shorten";

    public override string Name => "sundae";
    public override string Description => "sundae (hourglass transformer, step-unrolled denoising of random-token corruption; sampled by SUNDAE's self-stopping sampler)";
    public override IReadOnlyList<string> Settings => [SettingNames.Shorten, SettingNames.Depth];
    public override Corruption Corruption => Corruption.Uniform;
    public override string CheckpointPrefix => "sundae";

    public override (int count, string? depth) Layers(string? given, int defaultLayers)
    {
        var (pre, valley, post) = HourglassConfig.ParseDepth(given ?? HourglassConfig.DefaultDepth);
        return (pre + valley + post, $"{pre}-{valley}-{post}");
    }

    /// <summary>The hourglass for these settings: its depth from <see cref="BackboneOptions.Depth"/>, the layer count
    /// in <paramref name="config"/> being their sum.</summary>
    private static HourglassConfig ConfigOf(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions o)
    {
        var (pre, valley, post) = HourglassConfig.ParseDepth(o.Depth ?? HourglassConfig.DefaultDepth);
        return new HourglassConfig(config with { Layers = pre + valley + post }, gridHeight, gridWidth, pre, valley, post, o.Shorten);
    }

    public override PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) => new Hourglass(ConfigOf(config, gridHeight, gridWidth, options));

    public override void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options) => ConfigOf(config, gridHeight, gridWidth, options).Validate();

    public override void Record(PriorNetwork network, PyDict entry) => entry[ShortenKey] = (long)((Hourglass)network).Settings.Shorten;

    /// <summary>SUNDAE-VQGAN saves its network's state dict as it is: its keys, no prefix, no bookkeeping buffers.</summary>
    public override bool Recognizes(IReadOnlyDictionary<string, Tensor> sd) => sd.ContainsKey("token_emb.weight") && sd.ContainsKey("to_logits.weight");

    /// <summary>An hourglass from its keys (the reference's own, so a SUNDAE-VQGAN <c>net.state_dict()</c> reads too): depths
    /// by counting layers, k from the downsampling's width, the head size from the query's; the grid is recorded, or a
    /// square. The reference's rotary frequencies are fixed, not learned: a file without them gets them computed.</summary>
    public override PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry)
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
        if (inner % heads != 0) throw new SettingException(SettingNames.Heads, $"{heads} do not divide the attention's {inner} channels: give the head count the prior was trained with");
        var (h, w) = PriorNetworks.RecordedGrid(entry) ?? SquareGridOf(sd, shorten);
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
