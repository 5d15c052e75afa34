namespace UnleashingTransformers.Grid.Jobs;

/// <summary>A job's priority (<see cref="JobPriority"/>) from its spec: the rule the gateway, the grains and the CLI share.</summary>
public static class JobPriorities
{
    /// <summary>The largest interactive canvas: 64x64 tokens (a 512-px image). Interactive jobs are small by rule, so
    /// their own job slots add little to a canvas silo's memory (Canvas:MemoryMb is shared by the batch jobs).</summary>
    public const long InteractiveTokens = 64 * 64;

    /// <summary>An interactive job's windows get this many times a batch job's share of a replica while both wait.</summary>
    public const double InteractiveWeight = 8;

    /// <summary>A job's weight in the replicas' fair share (<c>FairShare</c>).</summary>
    public static double Weight(JobPriority priority) => priority == JobPriority.Interactive ? InteractiveWeight : 1;

    /// <summary>The spec's priority, or the default by its size. Throws ArgumentException naming the field for another
    /// word, or for an interactive job above <see cref="InteractiveTokens"/>.</summary>
    public static JobPriority Of(CanvasJobSpec spec)
    {
        var small = (long)spec.Height * spec.Width <= InteractiveTokens;
        return spec.Priority switch
        {
            null => small ? JobPriority.Interactive : JobPriority.Batch,
            "interactive" when small => JobPriority.Interactive,
            "interactive" => throw new ArgumentException($"priority interactive: at most {InteractiveTokens} tokens (64x64); {spec.Height}x{spec.Width} is a batch job"),
            "batch" => JobPriority.Batch,
            var other => throw new ArgumentException($"priority '{other}': expected interactive or batch"),
        };
    }
}
