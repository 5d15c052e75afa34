using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Grid.Training;

/// <summary>
/// The training run of a trainer silo: the configured train-prior or train-vqgan, on a thread of its own,
/// always resuming from the newest complete checkpoint (so a killed trainer continues exactly), stopped
/// between steps. Each prior checkpoint is published, in checkpoint order, as a new version of the model
/// <c>Trainer:PublishAs</c> names (<see cref="IModelRegistryGrain"/>): jobs submitted from then on are generated
/// with it, window silos loading it on their first request; jobs started before keep the version they started on.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "its CancellationTokenSource has no timer or wait handle: nothing to release")]
public sealed class TrainerRun(TrainerSettings settings, string device, IGrainFactory grains, ILogger<TrainerRun> log)
{
    private readonly object _gate = new();
    private CancellationTokenSource _stop = new();
    private Task? _task;
    private Task _published = Task.CompletedTask;
    private long _last;
    private string? _lastPath, _error;

    /// <summary>Ends when the run ends (finished, stopped or failed).</summary>
    public Task Completion => _task ?? Task.CompletedTask;

    public TrainerStatus Status => new(settings.Kind, _task is { IsCompleted: false }, _last, _lastPath, _error);

    public TrainerStatus Start()
    {
        lock (_gate)
        {
            if (_task is { IsCompleted: false }) return Status;
            (_stop, _error) = (new CancellationTokenSource(), null);
            var stop = _stop.Token;
            _task = Task.Factory.StartNew(() => Train(stop), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return Status;
        }
    }

    public async Task<TrainerStatus> StopAsync()
    {
        _stop.Cancel();
        try
        {
            await Completion;
            await _published;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Reported through Status.
        }
        return Status;
    }

    private void Train(CancellationToken stop)
    {
        try
        {
            if (settings.Kind == "prior")
                new PriorTrainer(settings.Prior! with { Resume = true, Device = device }) { Checkpointed = Checkpointed, Say = Say }.Run(stop);
            else
                new VqGanTrainer(settings.VqGan! with { Resume = true, Device = device }) { Checkpointed = Checkpointed, Say = Say }.Run(stop);
        }
        catch (Exception e)
        {
            _error = e.Message;
            throw;
        }
    }

    private static void Say(string line) => Console.WriteLine($"silo: trainer: {line}");

    private void Checkpointed(long step, string path)
    {
        (_last, _lastPath) = (step, path);
        Console.WriteLine($"silo: trainer checkpoint step {step}");
        if (settings.Kind == "prior" && settings.PublishAs.Length > 0)
            lock (_gate) _published = _published.ContinueWith(_ => PublishAsync(path), TaskScheduler.Default).Unwrap();
    }

    private async Task PublishAsync(string path)
    {
        try
        {
            var version = ModelVersion.OfFile(path);
            await grains.GetGrain<IModelRegistryGrain>(0).PublishAsync(new PublishedModel(settings.PublishAs, path, settings.PublishVqGan, version, DateTimeOffset.UtcNow));
            Console.WriteLine($"silo: trainer published {path} as model {settings.PublishAs} version {version}");
        }
        catch (Exception e)
        {
            log.LogWarning("checkpoint {Path} was not published as model {Model}: {Error}", path, settings.PublishAs, e.Message);
        }
    }
}
