using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Spans and metrics reach an OTLP collector from both silos, as one trace from the gateway's
/// POST /jobs through the canvas job grain to the window replica grain on the other silo.</summary>
public sealed class TelemetryTests : GridTest
{
    [Fact]
    public async Task OneTraceSpansTheGatewayTheCanvasGrainAndAReplicaOnAnotherSilo()
    {
        using var collector = new OtlpReceiver();
        string[] Telemetry(string service) => [$"Telemetry:OtlpEndpoint={collector.Endpoint}", "Telemetry:ExportIntervalMs=500", $"Telemetry:ServiceName={service}"];
        using var redis = new RedisServer();
        var window = WindowSilo(redis, Telemetry("ut-window"));
        var port = Ports.Free();
        var canvas = CanvasSilo(redis, port, Telemetry("ut-canvas"));
        await ReadyGateway(port);
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x16", "--steps", "8", "--out", P("x.png"));
        // A graceful stop flushes what each silo has not exported yet.
        foreach (var silo in new[] { canvas, window })
        {
            silo.Terminate();
            Assert.Equal(0, silo.WaitForExit(30));
            silo.Dispose();
        }

        var spans = collector.Spans.ToList();
        var byId = spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        OtlpReceiver.Span? Parent(OtlpReceiver.Span s) => byId.GetValueOrDefault(s.ParentSpanId);
        Assert.True(spans.Count(s => s.Name == "gateway.submit") == 1, string.Join("\n", spans.GroupBy(s => (s.Service, s.Name)).Select(g => $"{g.Key}: {g.Count()}")));
        var submit = spans.Single(s => s.Name == "gateway.submit");
        // Its parent is the HTTP server span of POST /jobs.
        Assert.Equal("POST /jobs", Parent(submit)?.Name);
        Assert.Equal("ut-canvas", submit.Service);
        var job = Assert.Single(spans, s => s.Name == "canvas.job");
        Assert.Equal(submit.TraceId, job.TraceId);
        Assert.Equal(8, spans.Count(s => s.Name == "canvas.step" && s.TraceId == submit.TraceId));

        // On the window silo: Orleans' server spans of the replica grain, in the same trace, under the
        // canvas's window.batch spans (window.batch -> grain call client span -> server span), and the
        // decode of the finished canvas's tiles under canvas.render's decode.tile spans.
        void ServedUnder(string method, params string[] spanNames)
        {
            var served = spans.Where(s => s.Service == "ut-window" && s.Name.Contains($"IWindowReplicaGrain/{method}") && s.TraceId == submit.TraceId).ToList();
            Assert.NotEmpty(served);
            foreach (var server in served)
            {
                var ancestors = new List<string>();
                for (var s = Parent(server); s is not null; s = Parent(s)) ancestors.Add(s.Name);
                foreach (var name in spanNames) Assert.Contains(name, ancestors);
            }
        }
        ServedUnder("EvaluateAsync", "window.batch", "canvas.step", "gateway.submit");
        ServedUnder("DecodeAsync", "decode.tile", "canvas.render", "gateway.submit");

        foreach (var metric in new[] { "ut.canvas.tokens", "ut.job.progress", "ut.window.requests", "ut.window.batch_size", "ut.window.queue_time",
                     "ut.window.compute_time", "ut.window.in_flight", "ut.window.replicas", "ut.window.queue_depth", "ut.decode.tiles", "ut.decode.tile_time" })
            Assert.True(collector.Metrics.ContainsKey(metric), $"{metric} not exported; got {string.Join(", ", collector.Metrics.Keys)}");
        Assert.Contains(collector.Metrics.Keys, m => m.StartsWith("orleans-", StringComparison.Ordinal));
    }
}
