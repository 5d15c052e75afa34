using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// A training process's part in a data-parallel run: which rows of every global batch are its own, and the mean over
/// the ranks of what each computed on its rows (the gradients, the losses it logs). Every rank starts from the same
/// weights (the run's seed) and takes the same optimizer step on the same averaged gradients, so the ranks' weights
/// stay equal without being sent. A run of one process is the same code with no group and no collectives.
/// </summary>
public sealed class DataParallel : IDisposable
{
    private readonly ProcessGroup? _group;

    private DataParallel(ProcessGroup? group, int rank, int world) => (_group, Rank, World) = (group, rank, world);

    public int Rank { get; }
    public int World { get; }
    /// <summary>Rank 0: writes the checkpoints and the log, runs validation.</summary>
    public bool Leader => Rank == 0;

    /// <summary>Meets the other ranks at the store (one line naming the store when they cannot be met).</summary>
    public static DataParallel Join(DataParallelOptions options)
    {
        var (host, port) = options.Checked();
        if (options.World == 1) return new DataParallel(null, 0, 1);
        try
        {
            return new DataParallel(ProcessGroup.Gloo(host, port, options.Rank, options.World, TimeSpan.FromSeconds(options.TimeoutSeconds)), options.Rank, options.World);
        }
        catch (TorchException e)
        {
            throw new DataParallelException($"rank {options.Rank} of {options.World} could not meet the other ranks at the store {options.Store} within {options.TimeoutSeconds} s "
                + $"({FirstLine(e.Message)}): start every rank with the same --store HOST:PORT, rank 0's address");
        }
    }

    /// <summary>The rows of a global batch of <paramref name="batch"/> that are this rank's: [first, first + count).</summary>
    public (int first, int count) Share(int batch)
    {
        if (batch % World != 0) throw new ArgumentException($"a global batch of {batch} does not split among {World} ranks");   // the trainers' Validate said so first
        return (Rank * (batch / World), batch / World);
    }

    /// <summary>After the backward pass: each parameter's gradient replaced by its mean over the ranks, and the mean of
    /// each of <paramref name="values"/> (scalars) returned, all in one all-reduce.</summary>
    public double[] Average(IEnumerable<Parameter> parameters, params Tensor[] values)
    {
        if (_group is null) return [.. values.Select(v => v.item<double>())];
        return Collective(() => GradientAverage.Over(_group, parameters, values));
    }

    /// <summary>Each of <paramref name="tensors"/> replaced by its mean over the ranks, in one all-reduce.</summary>
    public void Mean(params Tensor[] tensors)
    {
        if (_group is not null) Collective(() => GradientAverage.Mean(_group, tensors));
    }

    /// <summary>Checks that every rank holds <paramref name="value"/> (where a run starts): else one line saying
    /// what differs.</summary>
    public void Agree(long value, string what)
    {
        if (_group is null) return;
        using var scope = NewDisposeScope();
        var pair = tensor(new double[] { value, (double)value * value });
        Collective(() => _group.AllReduceSum([pair]));
        var (sum, squares) = (pair[0].item<double>(), pair[1].item<double>());
        if (sum != (double)value * World || squares != (double)value * value * World)
            throw new DataParallelException($"the ranks disagree on {what} (this rank's: {value}): every rank must see the same --out folder and data");
    }

    private T Collective<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (TorchException e)
        {
            throw new DataParallelException($"rank {Rank} of {World}: another rank left the run ({FirstLine(e.Message)}); resume every rank from the newest checkpoint");
        }
    }

    private void Collective(Action call) => Collective(() => { call(); return 0; });

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    public void Dispose() => _group?.Dispose();
}

/// <summary>A data-parallel run cannot go on: its ranks cannot meet, or one of them left.</summary>
public sealed class DataParallelException(string message) : Exception(message);
