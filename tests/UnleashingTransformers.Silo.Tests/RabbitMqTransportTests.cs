using System.Collections.Concurrent;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Transports.InProcess;
using UnleashingTransformers.Models.Sampling;
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

    /// <summary>A replica whose answer depends on the window's tokens and the position (so a result
    /// delivered to the wrong request changes the canvas).</summary>
    private sealed class TokenDependentDenoiser : ITokenDenoiser
    {
        public int Length => 16;
        public int CodebookSize => 5;
        public int MaskId => 5;
        public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
        {
            var probs = new float[wanted.Count * 5];
            for (var i = 0; i < wanted.Count; i++)
            {
                long sum = wanted[i].Position;
                for (var j = 0; j < 16; j++) sum += tokens[wanted[i].Row * 16 + j] * (j + 1);
                for (var k = 0; k < 5; k++) probs[i * 5 + k] = k == sum % 5 ? 0.8f : 0.05f;
            }
            return probs;
        }
    }

    [Fact]
    public async Task Canvases_sharing_one_pool_get_their_own_answers()
    {
        CanvasOptions Options(ulong seed) => new(8, 12, 4, 4, 2, 2, Steps: 16, Temperature: 1, Seed: seed);
        var denoiser = new TokenDependentDenoiser();
        var alone = new List<long[]>();
        foreach (var seed in new ulong[] { 1, 2 })
        {
            await using var local = new InProcessWindowPool([denoiser]);
            alone.Add(await new CanvasCoordinator(local, Options(seed)).RunAsync());
        }

        var settings = Broker("t.shared");
        await using var worker = await RabbitMqWindowWorker.ConnectAsync(settings, new ReplicaModel(denoiser, "v1"));
        using var stop = new CancellationTokenSource();
        var serving = worker.RunAsync(stop.Token);
        await using (var pool = await RabbitMqWindowPool.ConnectAsync(settings, "v1", 16, 5, 5))
        {
            var together = await Task.WhenAll(new CanvasCoordinator(pool, Options(1)).RunAsync(), new CanvasCoordinator(pool, Options(2)).RunAsync());
            Assert.Equal(alone[0], together[0]);
            Assert.Equal(alone[1], together[1]);
        }
        Assert.NotEqual(alone[0], alone[1]);
        stop.Cancel();
        await serving;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
