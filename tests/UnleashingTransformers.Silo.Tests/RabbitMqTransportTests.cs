using System.Collections.Concurrent;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Transports.RabbitMq;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// The remote pool's delivery rules, against stand-in replicas that misbehave on purpose: silent ones
/// (timeouts and retries, with the same request id), double answerers (a duplicate is taken once), and
/// slow ones (the in-flight bound holds).
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class RabbitMqTransportTests(RabbitMqBroker broker)
{
    private BrokerSettings Broker(string queue) => new() { Uri = broker.Uri, Queue = queue };

    private static WindowRequest Request(long id) => new(id, (int)id, new long[4], [0, 1]);

    /// <summary>A stand-in replica: sees each delivery and answers (or not) as told.</summary>
    private async Task<(IConnection, IChannel)> Replica(string queue, Func<IChannel, BasicDeliverEventArgs, Task> onRequest)
    {
        var connection = await Broker(queue).ConnectAsync("test-replica");
        var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, d) => onRequest(channel, d);
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return (connection, channel);
    }

    private static Task Answer(IChannel channel, BasicDeliverEventArgs d, int codebook = 3)
    {
        var request = WindowMessages.DecodeRequest(d.Body.Span);
        var result = new WindowResult(request.RequestId, request.WindowId, Enumerable.Repeat(1f / codebook, request.Positions.Length * codebook).ToArray());
        return channel.BasicPublishAsync("", d.BasicProperties.ReplyTo!, false, new BasicProperties { CorrelationId = d.BasicProperties.CorrelationId },
            WindowMessages.EncodeResult(result)).AsTask();
    }

    [Fact]
    public async Task An_unanswered_request_is_retried_with_its_id_then_fails_clearly()
    {
        var seen = new ConcurrentBag<string>();
        var (connection, _) = await Replica("t.silent", (_, d) => { seen.Add(d.BasicProperties.CorrelationId!); return Task.CompletedTask; });
        await using var _c = connection;
        await using var pool = await RabbitMqWindowPool.ConnectAsync(Broker("t.silent"), "v1", 4, 3, 3,
            new RemotePoolOptions { Timeout = TimeSpan.FromMilliseconds(700), Retries = 2 });
        var error = await Assert.ThrowsAsync<RemoteWindowException>(() => pool.EvaluateAsync([Request(1)]));
        Assert.Contains("no window replica answered", error.Message);
        Assert.Equal(3, seen.Count);
        Assert.Single(seen.Distinct());
    }

    [Fact]
    public async Task A_duplicate_answer_is_taken_once_and_a_slow_first_try_is_retried()
    {
        var tries = new ConcurrentDictionary<string, int>();
        var (connection, _) = await Replica("t.dup", async (ch, d) =>
        {
            // The first try of each request goes unanswered (a replica that died); the retry is answered twice.
            if (tries.AddOrUpdate(d.BasicProperties.CorrelationId!, 1, (_, n) => n + 1) == 1) return;
            await Answer(ch, d);
            await Answer(ch, d);
        });
        await using var _c = connection;
        await using var pool = await RabbitMqWindowPool.ConnectAsync(Broker("t.dup"), "v1", 4, 3, 3,
            new RemotePoolOptions { Timeout = TimeSpan.FromMilliseconds(500), Retries = 2 });
        var results = await pool.EvaluateAsync([Request(1), Request(2), Request(3)]);
        Assert.Equal(new long[] { 1, 2, 3 }, results.Select(r => r.RequestId));
        Assert.All(results, r => Assert.Equal(6, r.Probabilities.Length));
        Assert.All(tries.Values, n => Assert.Equal(2, n));
    }

    [Fact]
    public async Task In_flight_requests_are_bounded()
    {
        var outstanding = 0;
        var most = 0;
        var (connection, _) = await Replica("t.bounded", async (ch, d) =>
        {
            var now = Interlocked.Increment(ref outstanding);
            InterlockedMax(ref most, now);
            await Task.Delay(100);
            Interlocked.Decrement(ref outstanding);
            await Answer(ch, d);
        });
        await using var _c = connection;
        await using var pool = await RabbitMqWindowPool.ConnectAsync(Broker("t.bounded"), "v1", 4, 3, 3, new RemotePoolOptions { MaxInFlight = 2 });
        var results = await pool.EvaluateAsync(Enumerable.Range(1, 8).Select(i => Request(i)).ToList());
        Assert.Equal(8, results.Count);
        Assert.InRange(most, 1, 2);
    }

    [Fact]
    public async Task A_client_without_replicas_fails_at_once_when_asked_to()
    {
        var error = await Assert.ThrowsAsync<RemoteWindowException>(() =>
            RabbitMqWindowPool.ConnectAsync(Broker("t.nobody"), "v1", 4, 3, 3, new RemotePoolOptions { RequireReplicas = true }));
        Assert.Contains("no window replica consumes queue t.nobody", error.Message);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
