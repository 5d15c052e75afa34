using Orleans.Concurrency;
using UnleashingTransformers.Grid.Jobs;

namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// One canvas generation job (key = job id), on a canvas silo. Its state (spec, model version, step,
/// tokens) is saved at step boundaries; a job whose silo dies resumes from there on another canvas silo.
/// Status and cancel answer at once, while a step runs.
/// </summary>
public interface ICanvasJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job on the canvas silo's weights version; idempotent, a known job just reports. The job
    /// index admits it first (the pending-queue bound, retention, the job list hold for every caller). An edit
    /// (spec with a source job and a region) starts from the source's tokens with the region masked, on the
    /// source's weights. Throws ArgumentException naming the field when the spec is bad or the source is not a
    /// done job, and JobQueueFullException when Canvas:MaxPending jobs are unfinished.</summary>
    [ClientCallable]
    Task<JobStatus> SubmitAsync(CanvasJobSpec spec);

    /// <summary>Null when no such job exists.</summary>
    [AlwaysInterleave]
    [ClientCallable]
    Task<JobStatus?> StatusAsync();

    [AlwaysInterleave]
    [ClientCallable]
    Task<JobStatus?> CancelAsync();

    /// <summary>Wakes the job (an unfinished job resumes its step loop when activated).</summary>
    [AlwaysInterleave]
    Task<bool> ResumeAsync();

    /// <summary>The length and version of one of the job's outputs: <c>image.png</c>, <c>image.dzi</c> and
    /// <c>image_files/LEVEL/COL_ROW.jpeg</c> of a done job (its DeepZoom pyramid), or <c>preview.png</c> (the
    /// canvas as it stands, one pixel a token in its code's colour, masked positions grey; not for failed or
    /// cancelled jobs). Null when there is no such output (yet).</summary>
    [AlwaysInterleave]
    [ClientCallable]
    Task<OutputInfo?> OutputAsync(string file);

    /// <summary>Up to <see cref="OutputInfo.MaxChunk"/> bytes of an output from <paramref name="offset"/> (fewer at
    /// its end): outputs travel in bounded chunks, never whole. Null when the output is gone or is no longer the
    /// version <paramref name="etag"/> names (a preview of a later step).</summary>
    [AlwaysInterleave]
    [ClientCallable]
    Task<byte[]?> ReadAsync(string file, string etag, long offset, int count);

    /// <summary>The spec, weights version and tokens of a done job (null otherwise): what an edit starts from.</summary>
    [AlwaysInterleave]
    Task<FinishedCanvas?> CanvasAsync();

    /// <summary>Removes the job's state, its image and its entry in the index (retention).</summary>
    Task ForgetAsync();
}
