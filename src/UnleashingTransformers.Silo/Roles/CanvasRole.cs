using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Transports.RabbitMq;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Silo.Roles;

/// <summary>
/// Runs the jobs in the state directory, up to <c>Canvas:MaxJobs</c> at once: unfinished jobs first
/// (those a killed silo left: they resume from their saved canvas), then new ones as the gateway stores
/// them. Window passes go to the in-process pool, or to remote replicas through the broker.
/// </summary>
internal sealed class CanvasRole(SiloConfig config, SiloState state, JobStore store, PriorInfo prior, ILogger<CanvasRole> log, IWindowPool? localPool = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var device = Torch.Device.Parse(config.Device);
        using var vqgan = VqGanCheckpoint.Load(config.Models.VqGan, device);
        if (vqgan.quantize.CodebookSize != prior.CodebookSize)
            throw new ArgumentException($"Models:VqGan has {vqgan.quantize.CodebookSize} codes but the prior generates {prior.CodebookSize}: use the VQ-GAN the prior was trained with");
        IWindowPool pool = localPool ?? await RabbitMqWindowPool.ConnectAsync(config.Broker, prior.Version, prior.WindowLength, prior.CodebookSize, prior.MaskId,
            new RemotePoolOptions { Timeout = TimeSpan.FromSeconds(config.Canvas.RequestTimeoutSeconds), Retries = config.Canvas.Retries, MaxInFlight = config.Canvas.MaxInFlight },
            stop, problem => { if (problem is null) state.Ready("canvas"); else state.NotReady("canvas", problem); });
        var renderLock = new object();
        var runner = new CanvasJobRunner(store, pool, prior.GridHeight, prior.GridWidth, (tokens, o, path) =>
        {
            // One decode at a time: each is single-threaded for determinism and holds the whole image.
            lock (renderLock)
            {
                using var image = CanvasDecoder.Decode(vqgan, tokens, o.Height, o.Width, device: device);
                Images.Save(image, path);
            }
        }, config.Canvas.PersistEvery);
        var running = new Dictionary<string, Task>();
        state.Ready("canvas");
        Console.WriteLine($"silo: canvas role running jobs from {store.Root}");
        try
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var id in store.Unfinished())
                {
                    if (running.Count >= config.Canvas.MaxJobs) break;
                    if (running.ContainsKey(id) || store.TryClaim(id) is not { } claim) continue;
                    var job = store.Find(id)!;
                    if (job.Model != prior.Version)
                    {
                        store.WriteStatus(new JobStatus(id, JobState.Failed, 0, job.Spec.Steps, 0, (long)job.Spec.Height * job.Spec.Width,
                            $"job was submitted for model {job.Model} but this canvas silo serves {prior.Version}", DateTimeOffset.UtcNow));
                        claim.Dispose();
                        continue;
                    }
                    var resumeAt = store.LoadCanvas(id)?.Step ?? 0;
                    log.LogInformation("job {Id}: started ({Height}x{Width}, seed {Seed})", id, job.Spec.Height, job.Spec.Width, job.Spec.Seed);
                    if (resumeAt > 0) Console.WriteLine($"silo: job {id} resuming at step {resumeAt}");
                    running[id] = Task.Run(async () =>
                    {
                        using (claim)
                        {
                            var status = await runner.RunAsync(id, stop);
                            log.LogInformation("job {Id}: {State} at step {Step}/{Steps}{Error}", id, status.State, status.Step, status.Steps,
                                status.Error is null ? "" : $": {status.Error}");
                        }
                    }, CancellationToken.None);
                }
                try
                {
                    // Wake on a new job from this silo's gateway, a job finishing, or every 250 ms (jobs
                    // stored by a gateway elsewhere, or left by a silo that died).
                    var wake = state.JobsChanged.WaitAsync(250, stop);
                    await (running.Count == 0 ? wake : (Task)Task.WhenAny(running.Values.Append(wake)));
                }
                catch (OperationCanceledException) { }
                foreach (var id in running.Where(kv => kv.Value.IsCompleted).Select(kv => kv.Key).ToList())
                {
                    await running[id];
                    running.Remove(id);
                }
            }
            // Drain: each runner saves its canvas at the step it reached.
            await Task.WhenAll(running.Values);
        }
        finally
        {
            if (localPool is null) await pool.DisposeAsync();
        }
    }
}
