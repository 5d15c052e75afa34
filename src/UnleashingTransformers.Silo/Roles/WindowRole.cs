using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UnleashingTransformers.Grid.Transports.RabbitMq;

namespace UnleashingTransformers.Silo.Roles;

/// <summary>
/// The window role on a broker: <c>Window:Replicas</c> model replicas, each consuming the shared work
/// queue on its own connection. It listens for new weights announced by trainers and hands them to the
/// replicas, which swap them in between batches. (Without a broker, the window role is the in-process
/// pool the canvas role uses directly: see <see cref="SiloHost"/>.)
/// </summary>
internal sealed class WindowRole(SiloConfig config, SiloState state, ILogger<WindowRole> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        var replicas = PriorReplicas.From(config);
        var options = new WindowWorkerOptions { MaxBatch = config.Window.MaxBatch, MaxWait = TimeSpan.FromMilliseconds(config.Window.MaxWaitMs), Prefetch = config.Window.Prefetch };
        var workers = new List<RabbitMqWindowWorker>();
        await using var announcements = await config.Broker.ConnectAsync($"ut-window-weights-{Environment.ProcessId}", stop);
        try
        {
            for (var i = 0; i < config.Window.Replicas; i++)
            {
                var worker = await RabbitMqWindowWorker.ConnectAsync(config.Broker, replicas.Load(), options, stop, Health);
                workers.Add(worker);
                Console.WriteLine($"silo: window replica {i} serving {config.Broker.Queue} on {config.Broker.Display} (model {worker.Version})");
            }
            await ListenForWeightsAsync(announcements, replicas, workers, stop);
            state.Ready("window");
            await Task.WhenAll(workers.Select(w => Task.Run(() => w.RunAsync(stop), CancellationToken.None)));
            log.LogInformation("window role drained: {Served} requests served in {Batches} batches", workers.Sum(w => w.Served), workers.Sum(w => w.Batches));
        }
        finally
        {
            foreach (var w in workers) await w.DisposeAsync();
        }
    }

    private void Health(string? problem)
    {
        if (problem is null) state.Ready("window"); else state.NotReady("window", problem);
    }

    private async Task ListenForWeightsAsync(IConnection connection, PriorReplicas replicas, List<RabbitMqWindowWorker> workers, CancellationToken stop)
    {
        var channel = await connection.CreateChannelAsync(cancellationToken: stop);
        await channel.ExchangeDeclareAsync(config.Broker.WeightsExchange, ExchangeType.Fanout, durable: true, cancellationToken: stop);
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: stop);
        await channel.QueueBindAsync(queue.QueueName, config.Broker.WeightsExchange, "", cancellationToken: stop);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            var path = Encoding.UTF8.GetString(delivery.Body.Span);
            try
            {
                foreach (var w in workers) w.Reload(replicas.Load(path));
                log.LogInformation("new weights {Path}: replicas reload between batches", path);
                Console.WriteLine($"silo: window replicas reloading {path}");
            }
            catch (Exception e) when (e is IOException or ArgumentException or Torch.TorchException)
            {
                log.LogWarning("announced weights {Path} not loaded: {Error}", path, e.Message);
            }
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, stop);
    }
}
