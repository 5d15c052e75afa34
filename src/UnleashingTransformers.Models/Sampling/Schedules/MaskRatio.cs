namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>MaskGIT's mask-ratio functions γ(r): the fraction of tokens still masked after a fraction r of the
/// steps (γ(0) = 1, γ(1) = 0).</summary>
public enum MaskScheduleKind { Cosine, Arccos, Linear }

/// <summary>How many tokens a count-scheduled step (confidence, Halton) reveals.</summary>
public static class MaskRatio
{
    public static MaskScheduleKind Parse(string text) => text.ToLowerInvariant() switch
    {
        "cosine" => MaskScheduleKind.Cosine,
        "arccos" => MaskScheduleKind.Arccos,
        "linear" => MaskScheduleKind.Linear,
        _ => throw new ArgumentException($"mask schedule '{text}': expected cosine, arccos or linear"),
    };

    public static double Gamma(MaskScheduleKind kind, double r) => kind switch
    {
        MaskScheduleKind.Cosine => Math.Cos(r * Math.PI / 2),
        MaskScheduleKind.Arccos => Math.Acos(Math.Clamp(r, 0, 1)) / (Math.PI / 2),
        _ => 1 - r,
    };

    /// <summary>
    /// Tokens to reveal at <paramref name="step"/> of <paramref name="steps"/> when <paramref name="masked"/> are
    /// masked: those beyond ⌊masked · γ((k+1)/S) / γ(k/S)⌋, at least one, and all at the last step. From a full
    /// mask the first step keeps ⌊L·γ(1/S)⌋ masked as MaskGIT does; later steps scale what is masked now rather
    /// than the length at the start, so a resumed or partly masked canvas (inpainting) needs no other state.
    /// </summary>
    public static int RevealCount(MaskScheduleKind kind, int step, int steps, int masked)
    {
        if (masked <= 0) return 0;
        if (step >= steps - 1) return masked;
        var ratio = Gamma(kind, (step + 1.0) / steps) / Gamma(kind, (double)step / steps);
        var keep = (int)Math.Floor(masked * Math.Clamp(ratio, 0, 1) + 1e-9);
        return Math.Clamp(masked - keep, 1, masked);
    }
}
