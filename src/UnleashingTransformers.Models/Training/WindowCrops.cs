using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// Windows cut from latent grids for training on crops (<c>train-prior --crop HxW</c>): each row of a batch its
/// own random offset, a function of (seed, step, row) as every other training draw, so resumed runs repeat.
/// </summary>
public sealed class WindowCrops
{
    private readonly ulong _seed;

    public (int Height, int Width) Grid { get; }
    public (int Height, int Width) Window { get; }
    public int Tokens => Window.Height * Window.Width;

    private WindowCrops((int, int) grid, (int, int) window, ulong seed) => (Grid, Window, _seed) = (grid, window, seed);

    /// <summary>Crops of <paramref name="crop"/> ("HxW") from rows of <paramref name="tokens"/> laid out as <paramref name="grid"/>
    /// ("HxW"; null: square).</summary>
    public static WindowCrops Of(string crop, string? grid, int tokens, ulong seed)
    {
        var (ch, cw) = GridShape.Parse(crop, SettingNames.Crop);
        var side = (int)Math.Round(Math.Sqrt(tokens));
        var (gh, gw) = grid is null ? (side, side) : GridShape.Parse(grid, SettingNames.Grid);
        if (gh * gw != tokens)
            throw new SettingException(SettingNames.Grid, grid is null ? $"is needed: the latents' {tokens} tokens a row are not a square grid: give HxW"
                : $"{grid} holds {gh * gw} tokens but the latents have {tokens} a row");
        if (ch > gh || cw > gw) throw new SettingException(SettingNames.Crop, $"{ch}x{cw} does not fit in the latents' {gh}x{gw} grid: crop at most the grid");
        return new WindowCrops((gh, gw), (ch, cw), seed);
    }

    /// <summary>A window of each row of <paramref name="rows"/> (B, grid tokens) at a random offset: (B, window tokens).
    /// The rows are rows <paramref name="firstRow"/>.. of the step's global batch (a rank's share), whose offsets they take.</summary>
    public Tensor Random(Tensor rows, long step, long firstRow = 0)
    {
        var (dh, dw) = ((ulong)(Grid.Height - Window.Height + 1), (ulong)(Grid.Width - Window.Width + 1));
        var offsets = Enumerable.Range(0, (int)rows.size(0)).Select(b =>
        {
            var h = CounterRng.Hash(_seed, TrainingStreams.Crops, (ulong)step, (ulong)(firstRow + b), CounterRng.Purpose.Token);
            return ((int)(h % dh), (int)(h / dh % dw));
        });
        return Cut(rows, offsets.ToArray());
    }

    /// <summary>The centre window of each row (validation: the same cells every time).</summary>
    public Tensor Centre(Tensor rows) =>
        Cut(rows, Enumerable.Repeat(((Grid.Height - Window.Height) / 2, (Grid.Width - Window.Width) / 2), (int)rows.size(0)).ToArray());

    private Tensor Cut(Tensor rows, (int top, int left)[] offsets)
    {
        var index = new long[offsets.Length * Tokens];
        var n = 0;
        foreach (var (top, left) in offsets)
            for (var r = 0; r < Window.Height; r++)
                for (var c = 0; c < Window.Width; c++) index[n++] = (long)(top + r) * Grid.Width + left + c;
        return rows.gather(1, from_array(index, offsets.Length, Tokens).to(rows.device));
    }
}
