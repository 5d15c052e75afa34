using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// Data parallelism's one step between the backward pass and the optimizer: each rank's gradients replaced by
/// their mean over the ranks, so that every rank's optimizer takes the step one process would take on the whole
/// global batch (each rank's loss being the mean over its equal share of it). The gradients travel as one flat
/// buffer in one all-reduce, as DistributedDataParallel buckets them (without its overlap with the backward), and
/// a few scalars the step logs ride along at its end.
/// </summary>
public static class GradientAverage
{
    /// <summary>Averages the gradients of <paramref name="parameters"/> in place; returns the mean of each of
    /// <paramref name="values"/> (scalars) over the ranks.</summary>
    public static double[] Over(ProcessGroup group, IEnumerable<Parameter> parameters, params Tensor[] values)
    {
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        var device = grads.Count > 0 ? grads[0].device : Device.CPU;
        var scalars = values.Select(v => v.detach().reshape(1).to(float32).to(device)).ToList();
        Mean(group, [.. grads, .. scalars]);
        return [.. scalars.Select(s => s.item<double>())];
    }

    /// <summary>Each of <paramref name="tensors"/> (float32, one device) replaced by its mean over the ranks, in place,
    /// through one flat buffer and one all-reduce.</summary>
    public static void Mean(ProcessGroup group, IReadOnlyList<Tensor> tensors)
    {
        if (group.World == 1 || tensors.Count == 0) return;
        using var scope = NewDisposeScope();
        var flat = cat([.. tensors.Select(t => t.flatten())]);
        group.AllReduceSum([flat]);
        flat.div_(group.World);
        long offset = 0;
        foreach (var t in tensors)
        {
            t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
            offset += t.numel();
        }
    }
}
