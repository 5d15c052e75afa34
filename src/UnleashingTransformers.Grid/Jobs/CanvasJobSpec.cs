using UnleashingTransformers.Grid.Canvas;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What a user asks of a canvas job, as <c>ut generate</c>'s flags and the gateway's POST body say it.
/// Checked here once for both; turned into <see cref="CanvasOptions"/> against the prior's window.
/// </summary>
public sealed record CanvasJobSpec
{
    public int Height { get; init; } = 32;
    public int Width { get; init; } = 64;
    /// <summary>Window in tokens (default: the prior's grid).</summary>
    public int? WindowHeight { get; init; }
    public int? WindowWidth { get; init; }
    /// <summary>Window stride in tokens (default: half a window; 1 in raster order).</summary>
    public int? Stride { get; init; }
    public int Steps { get; init; } = 256;
    public double Temperature { get; init; } = 0.8;
    public ulong Seed { get; init; }
    public string Aggregate { get; init; } = "mean";
    public string Order { get; init; } = "parallel";

    /// <summary>Checks the spec against the prior's grid and the size limit; throws ArgumentException
    /// whose message names the field and the allowed values.</summary>
    public CanvasOptions ToOptions(int priorHeight, int priorWidth, long maxTokens = long.MaxValue)
    {
        if (Height < 1 || Width < 1) throw new ArgumentException($"shape {Height}x{Width}: height and width must be >= 1");
        if ((long)Height * Width > maxTokens) throw new ArgumentException($"shape {Height}x{Width} has {(long)Height * Width} tokens, more than the limit of {maxTokens}");
        var order = Order switch
        {
            "parallel" => RevealOrder.Parallel,
            "raster" => RevealOrder.Raster,
            _ => throw new ArgumentException($"order '{Order}': expected parallel or raster"),
        };
        var aggregate = Aggregation.Parse(Aggregate);
        var (wh, ww) = (WindowHeight ?? priorHeight, WindowWidth ?? priorWidth);
        if (wh * ww != priorHeight * priorWidth) throw new ArgumentException($"window {wh}x{ww} does not hold the prior's {priorHeight * priorWidth} tokens");
        if (Height < wh || Width < ww) throw new ArgumentException($"shape {Height}x{Width} is smaller than the {wh}x{ww} window");
        if (Steps < 1) throw new ArgumentException("steps must be >= 1");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException("temperature must be > 0");
        var stride = Stride ?? (order == RevealOrder.Raster ? 1 : Math.Max(1, Math.Min(wh, ww) / 2));
        if (stride < 1) throw new ArgumentException("stride must be >= 1");
        return new CanvasOptions(Height, Width, wh, ww, Math.Min(stride, wh), Math.Min(stride, ww), Steps, Temperature, Seed, aggregate, order);
    }
}
