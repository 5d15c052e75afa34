using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Grid.Window;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Transports.RabbitMq;

/// <summary>How a window replica takes work.</summary>
public sealed record WindowWorkerOptions
{
    /// <summary>Windows per forward pass, at most.</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>How long a pass waits for its batch to fill once one request is there.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(2);
    /// <summary>Unacknowledged deliveries the broker lets this replica hold (its queue bound).</summary>
    public int Prefetch { get; init; } = 16;
}

/// <summary>
/// One model replica serving the broker's work queue. The broker hands it at most Prefetch unacknowledged
/// requests; it batches what is there (up to MaxBatch, waiting at most MaxWait), runs one forward pass,
/// publishes each answer to its requester, and only then acknowledges: a replica that dies mid-batch
/// leaves its requests unacknowledged and the broker gives them to another. Requests for other weights
/// are answered with an error, not served. New weights (<see cref="Reload"/>) are swapped in between
/// batches. On stop it cancels its subscription, finishes the pass it is in and hands back the rest.
/// </summary>
public sealed class RabbitMqWindowWorker : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly BrokerSettings _broker;
    private readonly WindowWorkerOptions _options;
    private readonly Channel<BasicDeliverEventArgs> _inbox = Channel.CreateUnbounded<BasicDeliverEventArgs>();
    private ReplicaModel _model;
    private ReplicaModel? _next;
    private long _served, _batches;

    public string Version => _model.Version;
    public long Served => Interlocked.Read(ref _served);
    public long Batches => Interlocked.Read(ref _batches);

    private RabbitMqWindowWorker(IConnection connection, IChannel channel, BrokerSettings broker, WindowWorkerOptions options, ReplicaModel model) =>
        (_connection, _channel, _broker, _options, _model) = (connection, channel, broker, options, model);

    public static async Task<RabbitMqWindowWorker> ConnectAsync(BrokerSettings broker, ReplicaModel model, WindowWorkerOptions? options = null,
        CancellationToken cancel = default, Action<string?>? health = null)
    {
        options ??= new WindowWorkerOptions();
        if (options.MaxBatch < 1 || options.Prefetch < 1) throw new ArgumentException("Window:MaxBatch and Window:Prefetch must be >= 1");
        var connection = await broker.ConnectAsync($"ut-window-{Environment.ProcessId}", cancel, health);
        try
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancel);
            await channel.QueueDeclareAsync(broker.Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancel);
            await channel.BasicQosAsync(0, (ushort)Math.Min(options.Prefetch, ushort.MaxValue), global: false, cancel);
            return new RabbitMqWindowWorker(connection, channel, broker, options, model);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Swaps in new weights before the next batch (the old replica is disposed then).</summary>
    public void Reload(ReplicaModel model) => Interlocked.Exchange(ref _next, model)?.Owner?.Dispose();

    /// <summary>Serves until <paramref name="stop"/>; then drains as described above.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            // The body's memory belongs to the client library only until this returns.
            var copy = new BasicDeliverEventArgs(delivery.ConsumerTag, delivery.DeliveryTag, delivery.Redelivered, delivery.Exchange,
                delivery.RoutingKey, delivery.BasicProperties, delivery.Body.ToArray(), delivery.CancellationToken);
            await _inbox.Writer.WriteAsync(copy);
        };
        var tag = await _channel.BasicConsumeAsync(_broker.Queue, autoAck: false, consumer, stop);
        GridTelemetry.Replicas.Add(1);
        using var depth = GridTelemetry.TrackQueueDepth(() => _inbox.Reader.Count);
        try
        {
            var batch = new List<BasicDeliverEventArgs>();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (!await _inbox.Reader.WaitToReadAsync(stop)) break;
                }
                catch (OperationCanceledException) { break; }
                batch.Clear();
                var sw = Stopwatch.StartNew();
                while (batch.Count < _options.MaxBatch)
                {
                    if (_inbox.Reader.TryRead(out var d)) { batch.Add(d); continue; }
                    var left = _options.MaxWait - sw.Elapsed;
                    if (left <= TimeSpan.Zero) break;
                    using var wait = new CancellationTokenSource(left);
                    try { await _inbox.Reader.WaitToReadAsync(wait.Token); } catch (OperationCanceledException) { break; }
                }
                try
                {
                    await ServeAsync(batch);
                }
                catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException)
                {
                    // The connection dropped mid-batch: its deliveries go back to the queue by themselves
                    // (unacknowledged), and the client library reconnects; drop ours and go on.
                    while (_inbox.Reader.TryRead(out _)) { }
                }
            }
        }
        finally
        {
            GridTelemetry.Replicas.Add(-1);
            // Stop taking work, then hand back what was delivered and not served.
            try { await _channel.BasicCancelAsync(tag); } catch (Exception) { /* channel already gone */ }
            while (_inbox.Reader.TryRead(out var left))
                try { await _channel.BasicNackAsync(left.DeliveryTag, multiple: false, requeue: true); } catch (Exception) { break; }
        }
    }

    private async Task ServeAsync(List<BasicDeliverEventArgs> batch)
    {
        if (Interlocked.Exchange(ref _next, null) is { } next)
        {
            _model.Owner?.Dispose();
            _model = next;
        }
        var model = _model;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var serve = new List<(BasicDeliverEventArgs delivery, WindowRequest request)>();
        foreach (var d in batch)
        {
            var wanted = WindowMessages.Text(d.BasicProperties.Headers, WindowMessages.ModelHeader);
            string? error = null;
            WindowRequest? request = null;
            if (wanted != model.Version)
                error = $"window replica holds model {model.Version} but the request is for {wanted}: point the canvas and the window silos at the same prior file";
            else
                try
                {
                    request = WindowMessages.DecodeRequest(d.Body.Span);
                    if (request.Tokens.Length != model.Denoiser.Length) error = $"request has {request.Tokens.Length} tokens, the replica's window holds {model.Denoiser.Length}";
                    else if (request.Positions.Any(p => p < 0 || p >= model.Denoiser.Length)) error = "request asks for a position outside the window";
                }
                catch (InvalidDataException e) { error = e.Message; }
            if (error is not null) await ReplyAsync(d, null, error, 0, 0);
            else serve.Add((d, request!));
        }
        if (serve.Count == 0) return;

        var parent = GridTelemetry.Extract(serve[0].delivery.BasicProperties.Headers);
        var links = serve.Skip(1).Select(s => GridTelemetry.Extract(s.delivery.BasicProperties.Headers)).Where(c => c != default).Select(c => new ActivityLink(c));
        using var activity = GridTelemetry.Source.StartActivity("window.serve", ActivityKind.Server, parent, links: links);
        activity?.SetTag("ut.batch_size", serve.Count);
        activity?.SetTag("ut.model", model.Version);

        WindowResult[] results;
        double compute;
        try
        {
            results = WindowBatch.Run(model.Denoiser, serve.Select(s => s.request).ToList(), out compute);
        }
        catch (Exception e) when (e is not (AlreadyClosedException or OperationInterruptedException))
        {
            foreach (var (d, _) in serve) await ReplyAsync(d, null, $"window replica failed: {e.Message}", 0, 0);
            return;
        }
        for (var i = 0; i < serve.Count; i++)
        {
            var d = serve[i].delivery;
            var queued = Math.Max(0, now - WindowMessages.Number(d.BasicProperties.Headers, WindowMessages.SentHeader));
            GridTelemetry.QueueTime.Record(queued);
            await ReplyAsync(d, results[i], null, queued, compute);
        }
        Interlocked.Add(ref _served, serve.Count);
        Interlocked.Increment(ref _batches);
    }

    /// <summary>Answers, then acknowledges: never the other way round (see the class comment).</summary>
    private async Task ReplyAsync(BasicDeliverEventArgs d, WindowResult? result, string? error, double queueMs, double computeMs)
    {
        if (d.BasicProperties.ReplyTo is { } replyTo)
        {
            var headers = new Dictionary<string, object?>
            {
                [WindowMessages.QueueTimeHeader] = queueMs.ToString("F2", CultureInfo.InvariantCulture),
                [WindowMessages.ComputeTimeHeader] = computeMs.ToString("F2", CultureInfo.InvariantCulture),
            };
            if (error is not null) headers[WindowMessages.ErrorHeader] = error;
            var props = new BasicProperties { CorrelationId = d.BasicProperties.CorrelationId, Headers = headers };
            await _channel.BasicPublishAsync("", replyTo, mandatory: false, props, result is null ? Array.Empty<byte>() : WindowMessages.EncodeResult(result));
        }
        await _channel.BasicAckAsync(d.DeliveryTag, multiple: false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _channel.CloseAsync();
            await _connection.CloseAsync();
        }
        catch (Exception) { /* closing a dead connection */ }
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
        _model.Owner?.Dispose();
        Interlocked.Exchange(ref _next, null)?.Owner?.Dispose();
    }
}
