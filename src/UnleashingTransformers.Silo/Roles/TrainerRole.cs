using Microsoft.Extensions.Hosting;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Training;

namespace UnleashingTransformers.Silo.Roles;

/// <summary>
/// Starts this silo's training run through its trainer grain once the silo is up, and stops it between
/// steps when the silo stops. A silo that only trains exits when the run is over.
/// </summary>
internal sealed class TrainerRole(SiloConfig config, TrainerRun run, IGrainFactory grains, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        await grains.GetGrain<ITrainerGrain>($"{OrleansSetup.SiloName(config)}/trainer").StartAsync();
        try
        {
            await run.Completion.WaitAsync(stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await run.StopAsync();
            return;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"ut: error: silo: trainer failed: {e.Message}");
            lifetime.StopApplication();
            return;
        }
        Console.WriteLine("silo: trainer finished");
        if (config.Roles.Length == 1) lifetime.StopApplication();
    }
}
