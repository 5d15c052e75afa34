using UnleashingTransformers.Cli.Tests;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Spans and metrics reach an OTLP collector from both sides of the broker, as one trace.</summary>
[Collection(BrokerCollection.Name)]
public sealed class TelemetryTests(RabbitMqBroker broker) : GridTest
{
    [Fact]
    public void Spans_and_metrics_reach_the_collector_with_parents_across_the_broker()
    {
        using var collector = new OtlpReceiver();
        var telemetry = new { OtlpEndpoint = collector.Endpoint, ExportIntervalMs = 500 };
        var window = WindowSilo(Config("window.json", new { Roles = new[] { "window" }, Broker = new { Uri = broker.Uri }, Telemetry = telemetry }));
        var port = RabbitMqBroker.FreePort();
        var canvas = UtProcess.Silo(Config("canvas.json", new { Roles = new[] { "canvas", "gateway" }, Broker = new { Uri = broker.Uri }, Gateway = new { Port = port }, Telemetry = telemetry }));
        canvas.WaitFor("silo: started");
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{port}", "--shape", "16x16", "--steps", "8", "--out", P("x.png"));
        // A graceful stop flushes what each silo has not exported yet.
        foreach (var silo in new[] { canvas, window })
        {
            silo.Terminate();
            Assert.Equal(0, silo.WaitForExit(30));
            silo.Dispose();
        }

        var spans = collector.Spans.ToList();
        var byId = spans.ToDictionary(s => s.SpanId);
        var serve = spans.Where(s => s.Name == "window.serve").ToList();
        Assert.NotEmpty(serve);
        // window.serve (window silo) -> window.batch -> canvas.step -> canvas.job (canvas silo), one trace.
        var chain = serve.Select(s => byId.GetValueOrDefault(s.ParentSpanId)).Where(p => p?.Name == "window.batch").ToList();
        Assert.NotEmpty(chain);
        foreach (var (s, batch) in serve.Zip(serve.Select(s => byId.GetValueOrDefault(s.ParentSpanId))).Where(x => x.Second is not null))
        {
            Assert.Equal(s.TraceId, batch!.TraceId);
            var step = byId[batch.ParentSpanId];
            Assert.Equal("canvas.step", step.Name);
            Assert.Equal("canvas.job", byId[step.ParentSpanId].Name);
        }
        Assert.Equal(8, spans.Count(s => s.Name == "canvas.step"));
        Assert.Single(spans, s => s.Name == "canvas.job");

        foreach (var metric in new[] { "ut.canvas.tokens", "ut.job.progress", "ut.window.requests", "ut.window.batch_size", "ut.window.queue_time",
                     "ut.window.compute_time", "ut.window.in_flight", "ut.window.replicas", "ut.window.queue_depth" })
            Assert.True(collector.Metrics.ContainsKey(metric), $"{metric} not exported; got {string.Join(", ", collector.Metrics.Keys)}");
    }
}
