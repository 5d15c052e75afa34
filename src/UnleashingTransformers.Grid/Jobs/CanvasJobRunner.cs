using System.Diagnostics;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// Runs one stored job to its end: rebuilds the canvas from its last saved state (a resumed job draws
/// exactly what the uninterrupted one would have: every draw is keyed by seed, step and position), saves
/// the state every <c>persistEvery</c> steps and when stopped, reports progress, honours cancellation and
/// writes the image atomically through <paramref name="render"/>.
/// </summary>
public sealed class CanvasJobRunner(JobStore store, IWindowPool pool, int priorHeight, int priorWidth, Action<long[], CanvasOptions, string> render, int persistEvery = 16)
{
    public async Task<JobStatus> RunAsync(string id, CancellationToken stop)
    {
        var job = store.Find(id) ?? throw new ArgumentException($"job {id} not found");
        if (store.Status(id) is { Finished: true } finished) return finished; // cancelled while we claimed it
        var options = job.Spec.ToOptions(priorHeight, priorWidth);
        using var activity = GridTelemetry.Source.StartActivity("canvas.job");
        activity?.SetTag("ut.job", id);
        activity?.SetTag("ut.shape", $"{options.Height}x{options.Width}");
        var saved = store.LoadCanvas(id);
        var canvas = new CanvasCoordinator(pool, options, saved?.Tokens, saved?.Step ?? 0);
        activity?.SetTag("ut.resumed_at", canvas.Step);
        var tags = new TagList { { "ut.job", id } };
        var lastStatus = Stopwatch.StartNew();
        long revealed = options.Cells - canvas.Tokens.Count(t => t == pool.MaskId);
        JobStatus Status(JobState state, string? error = null) =>
            new(id, state, canvas.Step, canvas.Steps, revealed, options.Cells, error, DateTimeOffset.UtcNow);
        try
        {
            store.WriteStatus(Status(JobState.Running));
            while (!canvas.Done)
            {
                if (store.CancelRequested(id))
                {
                    var cancelled = Status(JobState.Cancelled);
                    store.WriteStatus(cancelled);
                    return cancelled;
                }
                if (stop.IsCancellationRequested) break;
                await canvas.StepAsync(stop);
                revealed = options.Cells - canvas.Tokens.Count(t => t == pool.MaskId);
                GridTelemetry.JobProgress.Record((double)canvas.Step / canvas.Steps, tags);
                if (canvas.Step % persistEvery == 0) store.SaveCanvas(id, new CanvasState(canvas.Step, canvas.Tokens));
                if (lastStatus.ElapsedMilliseconds >= 200) { store.WriteStatus(Status(JobState.Running)); lastStatus.Restart(); }
            }
            if (!canvas.Done)
            {
                // Stopped (drain): keep what was done, the next silo goes on from here.
                store.SaveCanvas(id, new CanvasState(canvas.Step, canvas.Tokens));
                var queued = Status(JobState.Queued);
                store.WriteStatus(queued);
                return queued;
            }
            store.SaveCanvas(id, new CanvasState(canvas.Step, canvas.Tokens));
            render(canvas.Tokens, options, store.ImagePath(id));
            var done = Status(JobState.Done);
            store.WriteStatus(done);
            return done;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // A step cut short changes nothing, so the canvas is at a whole step: keep it.
            store.SaveCanvas(id, new CanvasState(canvas.Step, canvas.Tokens));
            var queued = Status(JobState.Queued);
            store.WriteStatus(queued);
            return queued;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever went wrong is the job's, not the silo's: it is reported and the silo goes on.
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            var failed = Status(JobState.Failed, e.Message);
            store.WriteStatus(failed);
            return failed;
        }
    }
}
