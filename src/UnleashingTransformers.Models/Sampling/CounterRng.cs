namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// A counter-based random source: every draw is a pure function of (seed, stream, step, position,
/// purpose), so a sample does not depend on how sequences or windows were batched, which worker
/// computed them, or in what order. (SplitMix64's finaliser over a mix of the counters.)
/// </summary>
public static class CounterRng
{
    /// <summary>What a draw is for, so two decisions at one (step, position) are independent.</summary>
    public enum Purpose : ulong { Reveal = 1, Token = 2, Remask = 3, Choice = 4, Shift = 5, Start = 6 }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Hash(ulong seed, ulong stream, ulong step, ulong position, Purpose purpose)
    {
        var h = Mix(seed + 0x9E3779B97F4A7C15UL);
        h = Mix(h ^ (stream + 0x632BE59BD9B4E019UL));
        h = Mix(h ^ (step + 0x85157AF5UL));
        h = Mix(h ^ (position + 0xCB1AB31FUL));
        return Mix(h ^ (ulong)purpose);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public static double Uniform(ulong seed, ulong stream, int step, int position, Purpose purpose) =>
        (Hash(seed, stream, (ulong)step, (ulong)position, purpose) >> 11) * (1.0 / (1UL << 53));
}
