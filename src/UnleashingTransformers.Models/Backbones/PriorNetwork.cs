using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// What an absorbing prior needs of its denoising network (<c>_denoise_fn</c>): token ids (B, L), the mask id
/// being the codebook size, to logits over the codebook (B, L, K). Training, the ELBO and checkpoints use
/// <see cref="nn.Module{TIn,TOut}.forward"/>; samplers, the canvas and the grid use <see cref="Denoiser"/>, so a
/// backbone plugs in here, in its <see cref="PriorBackbone"/>, and in <see cref="PriorNetworks.All"/>'s one line.
/// </summary>
public abstract class PriorNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>Width, depth, heads, window length and codebook (a backbone's own settings are its own).</summary>
    public abstract TransformerConfig Config { get; }

    /// <summary>The kind of network this is (its name, how it is built, recorded and read).</summary>
    public abstract PriorBackbone Backbone { get; }

    public Corruption Corruption => Backbone.Corruption;

    /// <summary>The token grid a backbone is bound to (its patches and positions are laid out on it), or null
    /// when it sees a flat sequence that any grid of its length can be read as (the transformer).</summary>
    public virtual (int Height, int Width)? Grid => null;

    /// <summary>The token grid the network's windows are read as: its own when it is bound to one (a <c>--grid</c>
    /// that differs is an error), else square or as given (<see cref="GridShape.Of"/>).</summary>
    public (int h, int w) TokenGrid(string? grid = null)
    {
        if (Grid is not { } own) return GridShape.Of(Config.BlockSize, grid);
        if (grid is not null && GridShape.Parse(grid, SettingNames.Grid) != own)
            throw new SettingException(SettingNames.Grid, $"{grid}: this {Backbone} prior was trained on a {own.Height}x{own.Width} grid; leave {SettingException.Ref(SettingNames.Grid)} out");
        return own;
    }

    /// <summary>A sampling-speed view of these weights, and what to dispose (before the network) when done.
    /// By default the network's own forward, with the wanted rows picked after it.</summary>
    public virtual (ITokenDenoiser denoiser, IDisposable? owned) Denoiser(InferencePrecision precision, Device device)
    {
        if (precision != InferencePrecision.Float32) throw new SettingException(SettingNames.Precision, $"{precision}: the {Backbone} backbone runs in float32 only");
        return (new NetworkDenoiser(forward, Config, Config.BlockSize, device) { Corruption = Corruption }, null);
    }
}

/// <summary>A network's forward over (B, <paramref name="length"/>) ids as a sampler's denoiser: the logits, then
/// softmax at the wanted positions only.</summary>
public sealed class NetworkDenoiser(Func<Tensor, Tensor> forward, TransformerConfig config, int length, Device device) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => config.CodebookSize;
    public int MaskId => config.MaskId;
    public Corruption Corruption { get; init; } = Corruption.Absorbing;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        if (wanted.Count == 0) return [];
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var idx = from_array(tokens, rows, Length).to(device);
        var r = from_array<long>(wanted.Select(w => (long)w.Row).ToArray(), wanted.Count).to(device);
        var p = from_array<long>(wanted.Select(w => (long)w.Position).ToArray(), wanted.Count).to(device);
        return forward(idx).index(r, p).softmax(-1, float32).cpu().ToArray<float>();
    }
}
