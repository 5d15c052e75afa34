using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Silo.Roles;

/// <summary>
/// Runs the configured training to its last step, resuming from the newest complete checkpoint in its
/// directory (so a killed trainer continues where its last checkpoint left off). After each prior
/// checkpoint it announces the EMA weights on the broker's weights exchange; window replicas reload them.
/// </summary>
internal sealed class TrainerRole(SiloConfig config, SiloState state, IHostApplicationLifetime lifetime, ILogger<TrainerRole> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        IConnection? connection = null;
        IChannel? channel = null;
        if (config.Broker.Configured && config.Trainer.Kind == "prior")
        {
            connection = await config.Broker.ConnectAsync($"ut-trainer-{Environment.ProcessId}", stop);
            channel = await connection.CreateChannelAsync(cancellationToken: stop);
            await channel.ExchangeDeclareAsync(config.Broker.WeightsExchange, ExchangeType.Fanout, durable: true, cancellationToken: stop);
        }
        void Announce(long step, string path)
        {
            channel?.BasicPublishAsync(config.Broker.WeightsExchange, "", Encoding.UTF8.GetBytes(path)).AsTask().GetAwaiter().GetResult();
            log.LogInformation("checkpoint at step {Step}: {Path}", step, path);
            Console.WriteLine($"silo: trainer checkpoint step {step}{(channel is null ? "" : " announced")}");
        }
        void Say(string line) => log.LogInformation("{Line}", line);
        state.Ready("trainer");
        try
        {
            // Training is CPU-bound and synchronous: its own thread, stopped between steps.
            await Task.Factory.StartNew(() =>
            {
                if (config.Trainer.Kind == "prior")
                    new PriorTrainer(config.Trainer.Prior! with { Resume = true, Device = config.Device }) { Checkpointed = Announce, Say = Say }.Run(stop);
                else
                    new VqGanTrainer(config.Trainer.VqGan! with { Resume = true, Device = config.Device }) { Checkpointed = Announce, Say = Say }.Run(stop);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!stop.IsCancellationRequested)
            {
                Console.WriteLine("silo: trainer finished");
                // A silo that only trains has nothing left to do.
                if (config.Roles.Length == 1) lifetime.StopApplication();
            }
        }
        finally
        {
            if (channel is not null) await channel.DisposeAsync();
            if (connection is not null) await connection.DisposeAsync();
        }
    }
}
