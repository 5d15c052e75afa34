namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// How a token is drawn from a position's distribution: temperature, ramped linearly from
/// <see cref="Temperature"/> at the first step to <see cref="TemperatureEnd"/> at the last when that is given,
/// then top-k (0: off) and top-p (1: off) filtering (<see cref="Categorical"/>).
/// </summary>
public sealed record TokenSampling(double Temperature, double? TemperatureEnd, int TopK, double TopP)
{
    /// <summary>A fixed temperature and no filter: the paper's draw.</summary>
    public static TokenSampling Plain(double temperature) => new(temperature, null, 0, 1);

    /// <summary>Throws ArgumentException naming the flag that is out of range.</summary>
    public TokenSampling Checked()
    {
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new SettingException(SettingNames.Temperature, "must be > 0");
        if (TemperatureEnd is { } end && (!(end > 0) || double.IsInfinity(end))) throw new SettingException(SettingNames.Temperature, "START:END: the end must be > 0");
        if (TopK < 0) throw new SettingException(SettingNames.TopK, "must be >= 0 (0: off)");
        if (!(TopP > 0 && TopP <= 1)) throw new SettingException(SettingNames.TopP, "must lie in (0, 1] (1: off)");
        return this;
    }

    public double TemperatureAt(int step, int steps) =>
        TemperatureEnd is { } end && steps > 1 ? Temperature + (end - Temperature) * Math.Min(step, steps - 1) / (steps - 1) : Temperature;

    public int Draw(ReadOnlySpan<float> probs, int step, int steps, double u) =>
        Categorical.Sample(probs, TemperatureAt(step, steps), u, TopK, TopP);

    /// <summary>Parses a temperature flag: <c>T</c>, or <c>START:END</c> for a linear ramp over the steps.</summary>
    public static (double start, double? end) ParseTemperature(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is 1 or 2 && parts.All(p => double.TryParse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            var values = parts.Select(p => double.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return (values[0], values.Length == 2 ? values[1] : null);
        }
        throw new SettingException(SettingNames.Temperature, $"{text}: expected a temperature T or a ramp START:END (e.g. 0.9:0.6)");
    }
}
