namespace UnleashingTransformers.Grid.Jobs;

/// <summary>silo.json's <c>Canvas</c> section: how canvas silos run jobs and what a job may ask for.</summary>
public sealed record CanvasSettings
{
    /// <summary>Save each job's canvas every N steps (and when the silo stops).</summary>
    public int PersistEvery { get; init; } = 16;
    /// <summary>Jobs of each priority (interactive, batch) one canvas silo steps at once; the others wait, queued.</summary>
    public int MaxJobs { get; init; } = 1;
    /// <summary>Deadline of one window call; past it the windows go to another replica.</summary>
    public int RequestTimeoutSeconds { get; init; } = 60;
    /// <summary>Times a failed window call is sent again.</summary>
    public int Retries { get; init; } = 3;
    /// <summary>Largest canvas a job may ask for, in tokens (1024 x 1024: an 8192-px image at 8 px a token). A job
    /// within it is still refused when the silo's memory or the state volume cannot hold it (<see cref="CanvasCapacity"/>).</summary>
    public long MaxTokens { get; init; } = 1024 * 1024;
    /// <summary>Memory the canvas silo's jobs may use in all, in MiB (0: three quarters of the silo's).</summary>
    public long MemoryMb { get; init; }
    /// <summary>Most steps a job may ask for (raster order: one step per token).</summary>
    public int MaxSteps { get; init; } = 1024;
    /// <summary>Unfinished jobs of each priority the cluster holds; more are refused (HTTP 429) until some finish.</summary>
    public int MaxPending { get; init; } = 64;
    /// <summary>Finished jobs kept (status and image); the oldest beyond are removed.</summary>
    public int KeepFinished { get; init; } = 100;
    /// <summary>Hours a finished job is kept.</summary>
    public double KeepFinishedHours { get; init; } = 24;

    public JobLimits Limits => new(MaxTokens, MaxSteps);

    public IEnumerable<string> Problems()
    {
        if (PersistEvery < 1 || MaxJobs < 1 || RequestTimeoutSeconds < 1 || MaxPending < 1 || KeepFinished < 1 || MaxSteps < 1 || MaxTokens < 1)
            yield return "Canvas: PersistEvery, MaxJobs, RequestTimeoutSeconds, MaxTokens, MaxSteps, MaxPending and KeepFinished must be >= 1";
        if (Retries < 0 || !(KeepFinishedHours > 0)) yield return "Canvas: Retries must be >= 0 and KeepFinishedHours > 0";
        if (MemoryMb < 0) yield return "Canvas: MemoryMb must be >= 0 (0: three quarters of the silo's memory)";
    }
}

/// <summary>silo.json's <c>Window</c> section: the model replicas of a window silo.</summary>
public sealed record WindowSettings
{
    /// <summary>Model replicas (CPU slots, or one per GPU) this silo serves.</summary>
    public int Replicas { get; init; } = 1;
    /// <summary>Most windows a replica takes from its queue at once (each still runs in a pass of its own).</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>How long a replica waits for a batch to fill.</summary>
    public int MaxWaitMs { get; init; } = 2;
    /// <summary>For benchmarks of the grid itself: replicas that compute nothing and take this long per
    /// forward pass (one a window), as a GPU pass would, answering uniform distributions. Unset: the real model.</summary>
    public double? SimulatedBatchMs { get; init; }
    /// <summary>Memory the silo's loaded models may take, in MB (each replica its prior, the model's VQ-GAN: the files'
    /// sizes): a model is loaded on its first request, and the least recently used ones are unloaded to stay within
    /// this. 0: no bound (every model requested stays loaded).</summary>
    public long MemoryBudgetMb { get; init; }

    public IEnumerable<string> Problems()
    {
        if (Replicas < 1 || MaxBatch < 1 || MaxWaitMs < 0 || SimulatedBatchMs < 0) yield return "Window: Replicas and MaxBatch must be >= 1, MaxWaitMs and SimulatedBatchMs >= 0";
        if (MemoryBudgetMb < 0) yield return $"Window:MemoryBudgetMb {MemoryBudgetMb}: expected 0 (no bound) or a size in MB";
    }
}
