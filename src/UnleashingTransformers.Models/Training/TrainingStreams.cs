using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// The trainers' random streams, each a <see cref="CounterRng"/> stream of the run's seed, so that any
/// step's randomness is known without replaying earlier steps (what makes a resumed run bit-identical).
/// The numbers are part of every trained file's history: never renumber them.
/// </summary>
public static class TrainingStreams
{
    /// <summary>The prior's step noise (time steps, masks), keyed by step.</summary>
    public const ulong PriorStep = 0;
    /// <summary>The per-epoch order of the training rows, keyed by epoch.</summary>
    public const ulong EpochOrder = 1;
    /// <summary>The validation ELBO's fixed noise, keyed by the batch's first row.</summary>
    public const ulong Validation = 2;
    /// <summary>Initial weights.</summary>
    public const ulong InitialWeights = 3;
    /// <summary>The VQ-GAN's step noise (augmentation, flips), keyed by step.</summary>
    public const ulong VqGanStep = 4;
    /// <summary>The offsets of training crops (<see cref="WindowCrops"/>), keyed by step and row.</summary>
    public const ulong Crops = 5;

    /// <summary>A seed for a torch generator from stream <paramref name="stream"/> at <paramref name="key"/>.</summary>
    public static ulong Seed(ulong runSeed, ulong stream, ulong key, CounterRng.Purpose purpose = CounterRng.Purpose.Token) =>
        CounterRng.Hash(runSeed, stream, key, 0, purpose);

    /// <summary>A seed for row <paramref name="row"/> of a global batch at <paramref name="key"/> (a step): what a row draws
    /// does not depend on which rank holds it (<see cref="Diffusion.RowNoise"/>).</summary>
    public static ulong RowSeed(ulong runSeed, ulong stream, ulong key, long row) =>
        CounterRng.Hash(runSeed, stream, key, (ulong)row, CounterRng.Purpose.Token);

    /// <summary>The noise of rows [<paramref name="first"/>, first + <paramref name="count"/>) of a global batch at <paramref name="key"/>.</summary>
    public static Diffusion.RowNoise Rows(ulong runSeed, ulong stream, ulong key, long first, long count) =>
        new(Enumerable.Range(0, (int)count).Select(i => RowSeed(runSeed, stream, key, first + i)));
}
