using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Storage;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Storage;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>
/// One canvas job. Its step loop runs beside the grain's requests (status and cancel answer at once),
/// saves the canvas every <c>Canvas:PersistEvery</c> steps and when the silo stops, and starts whenever
/// an unfinished job is activated: by the keep-alive reminder, by <see cref="JobKicker"/> after a silo
/// died, or by anyone asking for its status. Every draw is keyed by (seed, step, position), so a resumed
/// job draws exactly what the uninterrupted one would have. Random placement spreads jobs over the canvas
/// silos rather than onto the caller's. An idle job (finished, or asked about) leaves memory after two
/// minutes; a running one keeps itself active.
/// </summary>
[RandomPlacement, CollectionAgeLimit(Minutes = 2)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001",
    Justification = "its CancellationTokenSources have no timer or wait handle: nothing to release, and the run may still read them after deactivation")]
public sealed class CanvasJobGrain(
    [PersistentState("job", CanvasRuntime.Storage)] IPersistentState<CanvasJobState> job,
    CanvasRuntime runtime, ILogger<CanvasJobGrain> log) : Grain, ICanvasJobGrain, IRemindable
{
    private const string KeepAlive = "keepalive";
    /// <summary>The preview's name among the outputs.</summary>
    private const string Preview = "preview.png";

    private Task? _loop;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _cancel = new();
    private CanvasCoordinator? _canvas;
    /// <summary>The latest previews made (newest last), each as readers of it started on it.</summary>
    private readonly List<(byte[] bytes, string etag)> _previews = new();
    /// <summary>The state status calls report while a finish is being recorded (null: the saved state).</summary>
    private JobState? _reported;

    private string Id => this.GetPrimaryKeyString();
    private CanvasJobState S => job.State;
    private bool Exists => job.RecordExists && S.Spec is not null;
    private bool Finished => S.State is JobState.Done or JobState.Failed or JobState.Cancelled;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Exists && !Finished) StartLoop();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The silo stops (or the grain is moved): the loop keeps the whole step it reached.
        if (_loop is { IsCompleted: false }) Console.WriteLine($"silo: job {Id} stops ({reason.ReasonCode}: {reason.Description})");
        _stop.Cancel();
        if (_loop is not null) await _loop;
    }

    public async Task<JobStatus> SubmitAsync(CanvasJobSpec spec)
    {
        if (Exists) return Status();
        if (!JobIds.Valid(Id)) throw new ArgumentException($"job id of {Id.Length} characters: expected 1 to {JobIds.MaxLength} letters, digits or '-'");
        // An edit: the source's canvas with the region masked, generated on the source's model and weights.
        FinishedCanvas? from = null;
        if (spec.Source is { } source)
        {
            from = await GrainFactory.GetGrain<ICanvasJobGrain>(source).CanvasAsync()
                ?? throw new ArgumentException($"job {source} is not a done job: only a finished canvas can be edited");
            if (spec.Model is { } named && named != from.Model.Name)
                throw new ArgumentException($"job {source} was made with model {from.Model.Name}: an edit keeps its model (leave out model {named})");
        }
        var (model, prior) = from is null ? await runtime.Models.ResolveAsync(spec.Model) : (from.Model, await runtime.Models.PriorAsync(from.Model));
        var options = runtime.Options(spec, prior);
        long[]? tokens = null;
        if (from is not null)
        {
            if (from.Tokens.Length != options.Cells)
                throw new ArgumentException($"job {spec.Source} is {from.Spec.Height}x{from.Spec.Width} tokens: an edit keeps its shape");
            var region = TokenRegion.Parse(spec.Region!, options.Height, options.Width);
            tokens = TokenMask.Apply(from.Tokens, region.Mask(options.Height, options.Width), prior.MaskId);
        }
        await runtime.CheckCapacityAsync(options, model);
        // The index admits the job (the pending-queue bound) whoever submits it: every job is in the list,
        // under its retention rules; a job that does not start after all leaves it again.
        var index = GrainFactory.GetGrain<IJobIndexGrain>(0);
        var priority = JobPriorities.Of(spec);
        if (await index.AdmitAsync(Id, priority) == Admission.QueueFull)
            throw new JobQueueFullException($"too many {priority.ToString().ToLowerInvariant()} jobs are waiting or running (Canvas:MaxPending): try again later");
        try
        {
            await StartAsync(spec, options, model, prior, tokens);
        }
        catch
        {
            await index.RemoveAsync(Id);
            throw;
        }
        return Status();
    }

    private async Task StartAsync(CanvasJobSpec spec, CanvasOptions options, ModelKey model, PriorInfo prior, long[]? tokens)
    {
        var now = DateTimeOffset.UtcNow;
        job.State = new CanvasJobState
        {
            Spec = spec, Model = model.Version, ModelName = model.Name, State = JobState.Queued, Steps = CanvasRuntime.TotalSteps(options), Total = options.Cells,
            Tokens = tokens, Revealed = tokens?.Count(t => t != prior.MaskId) ?? 0, Created = now, Updated = now,
        };
        await job.WriteStateAsync();
        // The safety net: a job whose silo died is woken within a reminder period even if no kick reaches it.
        await this.RegisterOrUpdateReminder(KeepAlive, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        StartLoop();
    }

    /// <summary>The job's model and weights version (a job saved before models had names: the silo's default).</summary>
    private ModelKey Model => new(S.ModelName.Length > 0 ? S.ModelName : runtime.Models.Catalog.Default, S.Model);

    public Task<JobStatus?> StatusAsync()
    {
        // Asked about a job that does not exist: nothing to keep in memory.
        if (!Exists) DeactivateOnIdle();
        return Task.FromResult(Exists ? Status() : null);
    }

    public async Task<JobStatus?> CancelAsync()
    {
        if (!Exists) return null;
        if (Finished) return Status();
        _cancel.Cancel();
        if (_loop is null || _loop.IsCompleted)
        {
            S.CancelRequested = true;
            await FinishAsync(JobState.Cancelled);
        }
        return Status() with { State = JobState.Cancelled };
    }

    public Task<bool> ResumeAsync() => Task.FromResult(Exists);

    public async Task<OutputInfo?> OutputAsync(string file)
    {
        if (file == Preview) return await PreviewAsync() is { } preview ? new OutputInfo(preview.bytes.Length, preview.etag, "image/png") : null;
        if (!Exists || S.State != JobState.Done || runtime.Images.OutputFile(Id, file) is not { } path) return null;
        var info = new FileInfo(path);
        return info.Exists ? new OutputInfo(info.Length, FileTag(info), ContentType(file)) : null;
    }

    public async Task<byte[]?> ReadAsync(string file, string etag, long offset, int count)
    {
        if (offset < 0 || count < 0) throw new ArgumentException($"read of {count} bytes at {offset}: both must be >= 0");
        count = Math.Min(count, OutputInfo.MaxChunk);
        if (file == Preview)
        {
            // The version the reader started on, though the canvas has moved on since (kept: the last few).
            if (_previews.FirstOrDefault(p => p.etag == etag) is not { bytes: not null } preview) return null;
            var from = (int)Math.Min(offset, preview.bytes.Length);
            return preview.bytes.AsSpan(from, Math.Min(count, preview.bytes.Length - from)).ToArray();
        }
        if (!Exists || S.State != JobState.Done || runtime.Images.OutputFile(Id, file) is not { } path) return null;
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
            if (FileTag(new FileInfo(path)) != etag) return null;
            stream.Position = Math.Min(offset, stream.Length);
            var buffer = new byte[Math.Min(count, stream.Length - stream.Position)];
            await stream.ReadExactlyAsync(buffer);
            return buffer;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static string FileTag(FileInfo file) => $"\"{file.Length:x}-{file.LastWriteTimeUtc.Ticks:x}\"";

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".png" => "image/png",
        ".dzi" => "application/xml",
        ".jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    };

    /// <summary>The preview of the canvas as it stands, made once per step (readers take it in chunks).</summary>
    private async Task<(byte[] bytes, string etag)?> PreviewAsync()
    {
        if (!Exists || S.State is JobState.Failed or JobState.Cancelled) return null;
        var spec = S.Spec!;
        // The running canvas, the saved one, or (queued, never started) an empty one.
        var (step, revealed) = (_canvas?.Step ?? S.Step, _canvas?.Revealed ?? S.Revealed);
        var etag = $"\"p{step}-{revealed}\"";
        if (_previews.Count > 0 && _previews[^1].etag == etag) return _previews[^1];
        var tokens = _canvas?.Tokens ?? S.Tokens ?? Enumerable.Repeat((long)(await runtime.Models.PriorAsync(Model)).MaskId, spec.Height * spec.Width).ToArray();
        var preview = (await runtime.PreviewAsync(Model, tokens, spec.Height, spec.Width), etag);
        _previews.Add(preview);
        if (_previews.Count > 4) _previews.RemoveAt(0);
        return preview;
    }

    public Task<FinishedCanvas?> CanvasAsync() =>
        Task.FromResult(Exists && S.State == JobState.Done && S.Tokens is { } tokens ? new FinishedCanvas(S.Spec!, Model, tokens) : null);

    public async Task ForgetAsync()
    {
        _cancel.Cancel();
        await UnregisterAsync();
        // The record goes first: whoever finds the image gone finds the job gone too.
        await job.ClearStateAsync();
        runtime.Images.Delete(Id);
        // Not awaited: the index may be the caller (retention), waiting on this very call.
        GrainFactory.GetGrain<IJobIndexGrain>(0).RemoveAsync(Id).Ignore();
        DeactivateOnIdle();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!Exists || Finished) await UnregisterAsync();
        else StartLoop();
    }

    private JobStatus Status() => new(Id, _reported ?? S.State, _canvas?.Step ?? S.Step, S.Steps, _canvas?.Revealed ?? S.Revealed, S.Total, S.Error, S.Updated);

    private void StartLoop()
    {
        if (_loop is { IsCompleted: false }) return;
        _loop = RunAsync();
    }

    /// <summary>Runs the job; when storage or the disk fails past its retries, the job waits (reported resuming)
    /// and goes on from its last saved step, as often as it takes: a state that was not saved is never reported.</summary>
    private async Task RunAsync()
    {
        for (var pause = TimeSpan.FromSeconds(1); await RunOnceAsync() is { } why; pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPause.Ticks)))
        {
            log.LogWarning("job {Id}: paused at step {Step} ({Why}); resuming in {Seconds:F0} s", Id, S.Step, why, pause.TotalSeconds);
            _reported = JobState.Resuming;
            try
            {
                await Task.Delay(pause, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            finally
            {
                _reported = null;
            }
        }
    }

    private static readonly TimeSpan MaxPause = TimeSpan.FromSeconds(30);

    /// <summary>One run of the step loop; the reason when it stopped for a failure that passes, else null.</summary>
    private async Task<string?> RunOnceAsync()
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _cancel.Token);
        try
        {
            await runtime.Slots(JobPriorities.Of(S.Spec!)).WaitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            if (_cancel.IsCancellationRequested) await EndAsync(JobState.Cancelled);
            return null;
        }
        try
        {
            await StepsAsync();
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // The activation is going away. Whatever cut the step short (the cancellation, or a window call
            // failing as the cluster changed) changed nothing: the canvas is at a whole step, and the next
            // activation goes on from it.
            await SaveAsync(JobState.Queued);
        }
        catch (InconsistentStateException e)
        {
            log.LogWarning("job {Id}: another activation owns it ({Message}); this one stops", Id, e.Message);
            DeactivateOnIdle();
        }
        catch (Exception e) when (Passes(e))
        {
            return PublicError.Of(e);
        }
        catch (Exception e)
        {
            // Whatever went wrong is the job's, not the silo's: it is reported (one line, no stack, paths or
            // endpoints; the whole chain goes to the log) and the silo goes on.
            log.LogWarning(e, "job {Id}: failed: {Error}", Id, PublicError.Of(e));
            try
            {
                S.Error = PublicError.Of(e);
                await EndAsync(JobState.Failed);
            }
            catch (Exception again) when (Passes(again))
            {
                S.Error = null;
                return PublicError.Of(again);
            }
        }
        finally
        {
            runtime.Slots(JobPriorities.Of(S.Spec!)).Release();
        }
        return null;
    }

    /// <summary>Failures that pass: storage out of reach past its retries, a full disk under the render.</summary>
    private static bool Passes(Exception e) =>
        e is StorageUnavailableException || e is IOException && DiskFull(e) || e.InnerException is { } inner && Passes(inner);

    private static bool DiskFull(Exception e) => e.Message.Contains("No space left on device", StringComparison.Ordinal) || (e.HResult & 0xFFFF) is 28 or 122;

    /// <summary>The cells a job generates: an edit's region, else all (a refining prior's resumed canvas no longer shows them as masks).</summary>
    private static bool[] Generated(CanvasJobSpec spec, CanvasOptions options) => spec.Region is { } region
        ? TokenRegion.Parse(region, options.Height, options.Width).Mask(options.Height, options.Width)
        : Enumerable.Repeat(true, options.Cells).ToArray();

    private async Task StepsAsync()
    {
        var prior = await runtime.Models.PriorAsync(Model);
        var options = runtime.Options(S.Spec!, prior);
        using var activity = GridTelemetry.Source.StartActivity("canvas.job");
        activity?.SetTag("ut.job", Id);
        activity?.SetTag("ut.model", Model.ToString());
        activity?.SetTag("ut.shape", $"{options.Height}x{options.Width}");
        activity?.SetTag("ut.resumed_at", S.Step);
        var replicas = runtime.Models.Replicas(Model, prior, new WindowFlow(Id, JobPriorities.Of(S.Spec!)));
        _canvas = new CanvasCoordinator(replicas.Pool, options, S.Tokens, S.Step, S.Step > 0 ? Generated(S.Spec!, options) : null);
        Console.WriteLine(S.Step > 0 ? $"silo: job {Id} resuming at step {S.Step}" : $"silo: job {Id} started");
        await SaveAsync(JobState.Running);
        var tags = new TagList { { "ut.job", Id } };
        while (!_canvas.Done)
        {
            if (_cancel.IsCancellationRequested || S.CancelRequested)
            {
                await EndAsync(JobState.Cancelled);
                return;
            }
            await _canvas.StepAsync(_stop.Token);
            // The loop is not a request: without this the idle grain could be collected mid-job.
            DelayDeactivation(TimeSpan.FromMinutes(2));
            GridTelemetry.JobProgress.Record((double)_canvas.Step / _canvas.Steps, tags);
            if (_canvas.Step % runtime.Settings.PersistEvery == 0) await SaveAsync(JobState.Running);
        }
        await SaveAsync(JobState.Running);
        // The render is no request either, and takes minutes at 1024x1024 tokens on CPU replicas.
        DelayDeactivation(TimeSpan.FromHours(2));
        await runtime.RenderAsync(Model, replicas, _canvas.Tokens, options, runtime.Images.ImagePath(Id), vqgan => new ImageParameters(S.Model, vqgan, S.Spec!), _stop.Token);
        // Idle from here on: collected as any finished job is.
        DelayDeactivation(TimeSpan.Zero);
        // The tokens stay with the done job (8 bytes a token): edits start from them.
        await EndAsync(JobState.Done);
    }

    /// <summary>Saves the canvas at the step it reached.</summary>
    private async Task SaveAsync(JobState state)
    {
        if (_canvas is not null)
        {
            (S.Step, S.Tokens, S.Revealed) = (_canvas.Step, _canvas.Tokens, _canvas.Revealed);
        }
        (S.State, S.Updated) = (state, DateTimeOffset.UtcNow);
        await job.WriteStateAsync();
    }

    private async Task EndAsync(JobState state)
    {
        if (state == JobState.Cancelled) S.CancelRequested = true;
        if (_canvas is not null && state != JobState.Done) (S.Step, S.Revealed) = (_canvas.Step, _canvas.Revealed);
        if (state != JobState.Done) S.Tokens = null;
        await FinishAsync(state);
    }

    private async Task FinishAsync(JobState state)
    {
        // Callers see the job finished only once the job index knows: a client that submits the moment it
        // sees "done" must find the pending queue one shorter.
        var before = S.State;
        _reported = before;
        try
        {
            (S.State, S.Updated) = (state, DateTimeOffset.UtcNow);
            try
            {
                await job.WriteStateAsync();
            }
            catch
            {
                // Not saved: not finished either (the step loop tries again).
                S.State = before;
                throw;
            }
            _canvas = null;
            await UnregisterAsync();
            await GrainFactory.GetGrain<IJobIndexGrain>(0).FinishedAsync(Id);
        }
        finally
        {
            _reported = null;
        }
        log.LogInformation("job {Id}: {State} at step {Step}/{Steps}", Id, state, S.Step, S.Steps);
    }

    private async Task UnregisterAsync()
    {
        if (await this.GetReminder(KeepAlive) is { } reminder) await this.UnregisterReminder(reminder);
    }
}
