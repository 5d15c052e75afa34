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
public sealed class TrainerRun(TrainerSettings settings, string device, IGrainFactory grains, ILocalSiloDetails silo, ILogger<TrainerRun> log)
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
            if (settings.MaxRanks > 1) TrainRanked(stop);
            else Train(new DataParallelOptions(), stop);
        }
        catch (Exception e)
        {
            _error = e.Message;
            throw;
        }
    }

    /// <summary>The configured run, resumed from its newest checkpoint, as rank <paramref name="place"/> of a data-parallel run.</summary>
    private void Train(DataParallelOptions place, CancellationToken stop)
    {
        if (settings.Kind == "prior")
            new PriorTrainer(settings.Prior! with { Resume = true, Device = device, Parallel = place }) { Checkpointed = Checkpointed, Say = Say }.Run(stop);
        else
            new VqGanTrainer(settings.VqGan! with { Resume = true, Device = device, Parallel = place }) { Checkpointed = Checkpointed, Say = Say }.Run(stop);
    }

    /// <summary>
    /// Data-parallel across trainer silos: checks in with the run's roster every second and trains the generation it
    /// is given, until the run is over. A generation that breaks (a rank lost: its all-reduce fails; or the roster
    /// formed another) ends this silo's part, which checks in again and resumes with the next from the newest checkpoint.
    /// </summary>
    private void TrainRanked(CancellationToken stop)
    {
        var roster = grains.GetGrain<ITrainingRunGrain>(settings.Run);
        var name = silo.SiloAddress.ToParsableString();   // silos on one machine may share a name, never an address
        var timeout = (settings.Kind == "prior" ? settings.Prior!.Parallel : settings.VqGan!.Parallel).TimeoutSeconds;
        // The roster's silo may be the one just lost: until its grain is active elsewhere, a check-in fails (null),
        // which changes nothing; the ranks' own all-reduce is what tells a generation is broken.
        RankAssignment? CheckIn(long generation)
        {
            try
            {
                var me = new TrainerCheckIn(name, silo.SiloAddress.Endpoint.Address.ToString(), settings.StorePort, settings.MinRanks, settings.MaxRanks, generation);
                return roster.CheckInAsync(me).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                log.LogWarning("trainer: the run's roster did not answer: {Error}", e.Message);
                return null;
            }
        }
        long last = 0;
        while (!stop.IsCancellationRequested)
        {
            var given = CheckIn(last);
            if (given is { Finished: true }) return;
            if (given is not { Assigned: true })
            {
                stop.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                continue;
            }
            Say($"rank {given.Rank} of {given.World} (generation {given.Generation}, store {given.Store})");
            last = given.Generation;
            using var generation = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var place = new DataParallelOptions { Rank = given.Rank, World = given.World, Store = given.Store, TimeoutSeconds = timeout };
            var part = Task.Factory.StartNew(() => Train(place, generation.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            while (Task.WaitAny([part], TimeSpan.FromSeconds(1)) < 0)   // the part stops itself on the stop, between steps
                if (CheckIn(given.Generation) is { Finished: false } now && now.Generation != given.Generation) generation.Cancel();   // formed anew without this one
            var finished = false;
            try
            {
                part.GetAwaiter().GetResult();
                finished = !generation.IsCancellationRequested;
            }
            catch (DataParallelException e)
            {
                Say($"generation {given.Generation} ended: {e.Message}");
            }
            try
            {
                roster.ReportAsync(name, given.Generation, finished).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning("trainer: the run's roster did not hear generation {Generation} end: {Error}", given.Generation, e.Message);   // it finds out from the check-ins
            }
            if (finished) return;
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
