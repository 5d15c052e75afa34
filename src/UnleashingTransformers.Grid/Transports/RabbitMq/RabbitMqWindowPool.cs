using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Grid.Transports.RabbitMq;

/// <summary>A remote replica refused a request, or none answered in time.</summary>
public sealed class RemoteWindowException(string message) : IOException(message);

/// <summary>How a canvas talks to remote replicas.</summary>
public sealed record RemotePoolOptions
{
    /// <summary>A request not answered in this time is sent again (same id: a duplicate answer is dropped).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    public int Retries { get; init; } = 3;
    /// <summary>At most this many requests sent and not answered (backpressure on the canvas).</summary>
    public int MaxInFlight { get; init; } = 256;
    /// <summary>Fail at connect when no replica consumes the queue (a one-off client), rather than wait
    /// for replicas to appear (a canvas silo started before its window silos).</summary>
    public bool RequireReplicas { get; init; }
}

/// <summary>
/// The canvas's window pool on remote replicas: each request is one persistent message on the durable
/// work queue that every window replica consumes (competing consumers, so requests spread over replicas
/// and a dead replica's unacknowledged ones go to another); answers come back on this client's own
/// exclusive queue, matched by correlation id. Correlation ids are unique per pool and kept across
/// retries, so a retried or redelivered request answered twice is taken once.
/// </summary>
public sealed class RabbitMqWindowPool : IWindowPool
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private volatile string _replyQueue;
    private readonly BrokerSettings _broker;
    private readonly RemotePoolOptions _options;
    private readonly string _model;
    private readonly string _client = Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentDictionary<string, TaskCompletionSource<WindowResult>> _pending = new();
    private readonly SemaphoreSlim _inFlight;
    private readonly SemaphoreSlim _publish = new(1, 1);
    private long _sent;

    public int WindowLength { get; }
    public int CodebookSize { get; }
    public int MaskId { get; }

    private RabbitMqWindowPool(IConnection connection, IChannel channel, string replyQueue, BrokerSettings broker, RemotePoolOptions options,
        string model, int windowLength, int codebookSize, int maskId)
    {
        (_connection, _channel, _replyQueue, _broker, _options, _model) = (connection, channel, replyQueue, broker, options, model);
        (WindowLength, CodebookSize, MaskId) = (windowLength, codebookSize, maskId);
        _inFlight = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
    }

    /// <summary>Connects; <paramref name="model"/> is the weights version (see <see cref="ModelVersion"/>)
    /// every answering replica must hold.</summary>
    public static async Task<RabbitMqWindowPool> ConnectAsync(BrokerSettings broker, string model, int windowLength, int codebookSize, int maskId,
        RemotePoolOptions? options = null, CancellationToken cancel = default, Action<string?>? health = null)
    {
        options ??= new RemotePoolOptions();
        if (options.MaxInFlight < 1 || options.Retries < 0 || options.Timeout <= TimeSpan.Zero)
            throw new ArgumentException("remote pool: MaxInFlight must be >= 1, Retries >= 0, Timeout > 0");
        var connection = await broker.ConnectAsync($"ut-canvas-{Environment.ProcessId}", cancel, health);
        try
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancel);
            var work = await channel.QueueDeclareAsync(broker.Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancel);
            if (options.RequireReplicas && work.ConsumerCount == 0)
                throw new RemoteWindowException($"no window replica consumes queue {broker.Queue} on {broker.Display}: start a silo with the window role there (ut silo)");
            var reply = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: cancel);
            var pool = new RabbitMqWindowPool(connection, channel, reply.QueueName, broker, options, model, windowLength, codebookSize, maskId);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) => { pool.OnReply(delivery); return Task.CompletedTask; };
            await channel.BasicConsumeAsync(reply.QueueName, autoAck: true, consumer, cancel);
            // After a reconnect the broker names the recovered reply queue anew; requests still waiting
            // are resent on timeout, and their answers must go to the new name.
            connection.QueueNameChangedAfterRecoveryAsync += (_, e) =>
            {
                if (e.NameBefore == pool._replyQueue) pool._replyQueue = e.NameAfter;
                return Task.CompletedTask;
            };
            return pool;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default)
    {
        using var activity = GridTelemetry.Source.StartActivity("window.batch", ActivityKind.Client);
        activity?.SetTag("ut.windows", requests.Count);
        var tasks = requests.Select(r => SendAsync(r, activity, cancel)).ToList();
        return await Task.WhenAll(tasks);
    }

    private async Task<WindowResult> SendAsync(WindowRequest request, Activity? parent, CancellationToken cancel)
    {
        if (request.Tokens.Length != WindowLength) throw new ArgumentException($"request {request.RequestId}: {request.Tokens.Length} tokens, the window holds {WindowLength}");
        await _inFlight.WaitAsync(cancel);
        // The wire id is the pool's own: canvases sharing this pool number their requests alike.
        var id = $"{_client}:{Interlocked.Increment(ref _sent).ToString(CultureInfo.InvariantCulture)}";
        var done = new TaskCompletionSource<WindowResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = done;
        GridTelemetry.InFlight.Add(1);
        try
        {
            var body = WindowMessages.EncodeRequest(request);
            for (var attempt = 0; ; attempt++)
            {
                var headers = new Dictionary<string, object?>
                {
                    [WindowMessages.ModelHeader] = _model,
                    [WindowMessages.SentHeader] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                };
                GridTelemetry.Inject(parent, headers);
                var props = new BasicProperties { CorrelationId = id, ReplyTo = _replyQueue, Persistent = true, Headers = headers };
                await _publish.WaitAsync(cancel);
                string? lost = null;
                try { await _channel.BasicPublishAsync("", _broker.Queue, mandatory: false, props, body, cancel); }
                catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException)
                {
                    // The broker connection is down; the client library reconnects on its own. Treat the
                    // request as lost: wait out the timeout below and send it again.
                    lost = e.Message;
                }
                finally { _publish.Release(); }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(_options.Timeout);
                try
                {
                    return await done.Task.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    if (attempt >= _options.Retries)
                        throw new RemoteWindowException(lost is not null
                            ? $"lost the broker {_broker.Display} and it did not come back within {(attempt + 1) * _options.Timeout.TotalSeconds:F0} s: is RabbitMQ running there?"
                            : $"no window replica answered request {id} within {_options.Timeout.TotalSeconds:F0} s ({attempt + 1} tries): " +
                              $"is a silo with the window role connected to {_broker.Display}, queue {_broker.Queue}?");
                }
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
            GridTelemetry.InFlight.Add(-1);
            _inFlight.Release();
        }
    }

    private void OnReply(BasicDeliverEventArgs delivery)
    {
        if (delivery.BasicProperties.CorrelationId is not { } id || !_pending.TryRemove(id, out var done)) return; // late duplicate
        if (WindowMessages.Text(delivery.BasicProperties.Headers, WindowMessages.ErrorHeader) is { } error)
        {
            done.TrySetException(new RemoteWindowException(error));
            return;
        }
        try
        {
            done.TrySetResult(WindowMessages.DecodeResult(delivery.Body.Span));
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pending in _pending.Values) pending.TrySetCanceled();
        await _channel.CloseAsync();
        await _channel.DisposeAsync();
        await _connection.CloseAsync();
        await _connection.DisposeAsync();
    }
}
