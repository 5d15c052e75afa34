using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Diffusion;

/// <summary>
/// The noise of a training batch drawn row by row, each row from a generator of its own: a row's time step, mask and
/// corruption depend on its seed only, never on which rows share its batch. That is what lets N data-parallel ranks,
/// each holding B rows of a global batch, draw what one process holding all N·B rows draws (docs/training.md).
/// Draws are made on the CPU and moved to the batch's device, so a run's noise is the same on every device.
/// </summary>
public sealed class RowNoise : IDisposable
{
    private readonly Generator[] _rows;

    /// <summary>One generator a row, seeded with <paramref name="seeds"/> in row order.</summary>
    public RowNoise(IEnumerable<ulong> seeds)
    {
        _rows = [.. seeds.Select(s => new Generator(s))];
        if (_rows.Length == 0) throw new ArgumentException("a batch's noise needs at least one row");
    }

    /// <summary>Rows 0..<paramref name="rows"/>-1 of stream <paramref name="seed"/> (tests; validation batches).</summary>
    public static RowNoise Seeded(ulong seed, long rows, long firstRow = 0) =>
        new(Enumerable.Range(0, (int)rows).Select(r => CounterRng.Hash(seed, 0, (ulong)(firstRow + r), 0, CounterRng.Purpose.Token)));

    public int Rows => _rows.Length;

    /// <summary>Uniform [0, 1), (rows, <paramref name="shape"/>...).</summary>
    public Tensor Rand(Device device, params long[] shape) => Stack(g => rand(shape, g), device);

    /// <summary>Integers uniform in [low, high), (rows, <paramref name="shape"/>...).</summary>
    public Tensor RandInt(long low, long high, Device device, params long[] shape) => Stack(g => randint(low, high, shape, g), device);

    /// <summary>One draw per position from categorical <paramref name="probs"/> (rows, n, K), by the inverse CDF of a uniform
    /// per position: (rows, n).</summary>
    public Tensor Categorical(Tensor probs)
    {
        using var scope = NewDisposeScope();
        var k = probs.size(-1);
        var u = Rand(probs.device, probs.size(1)).unsqueeze(-1) * probs.sum(-1, keepdim: true);
        return (probs.cumsum(-1) < u).sum(-1).clamp(0, k - 1).MoveToOuterDisposeScope();
    }

    private Tensor Stack(Func<Generator, Tensor> draw, Device device)
    {
        using var scope = NewDisposeScope();
        return stack([.. _rows.Select(draw)]).to(device).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var g in _rows) g.Dispose();
    }
}
