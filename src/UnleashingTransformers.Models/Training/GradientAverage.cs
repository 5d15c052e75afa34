using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// Data parallelism's one step between the backward pass and the optimizer: each rank's gradients replaced by
/// their mean over the ranks, so that every rank's optimizer takes the step one process would take on the whole
/// global batch (each rank's loss being the mean over its equal share of it). The gradients travel as one flat
/// buffer in one all-reduce, as DistributedDataParallel buckets them (without its overlap with the backward).
/// </summary>
public static class GradientAverage
{
    public static void Over(ProcessGroup group, IEnumerable<Parameter> parameters)
    {
        if (group.World == 1) return;
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return;
        var flat = cat([.. grads.Select(g => g.flatten())]);
        group.AllReduceSum([flat]);
        flat.div_(group.World);
        long offset = 0;
        foreach (var g in grads)
        {
            g.copy_(flat.narrow(0, offset, g.numel()).view_as(g));
            offset += g.numel();
        }
    }
}
