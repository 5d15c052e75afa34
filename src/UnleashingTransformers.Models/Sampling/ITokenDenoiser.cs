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
