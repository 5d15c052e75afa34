using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Sampling;

/// <summary>What a prior's network was trained to undo, which decides how it is trained and sampled.</summary>
public enum Corruption
{
    /// <summary>Tokens replaced by the mask id (the paper's absorbing diffusion): a token is revealed once, never changed.</summary>
    Absorbing,
    /// <summary>Tokens replaced by uniformly random ones (SUNDAE): every step re-predicts every position.</summary>
    Uniform,
}

/// <summary>A (sequence, position) whose distribution is wanted.</summary>
public readonly record struct WantedPosition(int Row, int Position);

/// <summary>
/// What samplers need from a backbone: for token sequences (mask id where unknown), the probability
/// rows (temperature 1) over the codebook at chosen positions only.
/// </summary>
public interface ITokenDenoiser
{
    int Length { get; }
    int CodebookSize { get; }
    int MaskId { get; }

    /// <summary>What the network was trained to undo, which decides the sampler's step.</summary>
    Corruption Corruption => Corruption.Absorbing;

    /// <summary>Probabilities at <paramref name="wanted"/>: row-major (wanted.Count, CodebookSize).
    /// <paramref name="tokens"/> holds <paramref name="rows"/> sequences of <see cref="Length"/>.</summary>
    float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted);
}

/// <summary>The transformer prior as a denoiser, through its inference path.</summary>
public sealed class TransformerDenoiser(TransformerInference model, Device device) : ITokenDenoiser
{
    public int Length => model.Config.BlockSize;
    public int CodebookSize => model.Config.CodebookSize;
    public int MaskId => model.Config.MaskId;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        if (wanted.Count == 0) return Array.Empty<float>();
        using var scope = NewDisposeScope();
        var idx = from_array(tokens, rows, Length).to(device);
        var r = from_array<long>(wanted.Select(w => (long)w.Row).ToArray(), wanted.Count).to(device);
        var p = from_array<long>(wanted.Select(w => (long)w.Position).ToArray(), wanted.Count).to(device);
        return model.ProbabilitiesAt(idx, r, p).ToArray<float>();
    }
}
