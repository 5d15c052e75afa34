using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using UnleashingTransformers.Testing;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// A test OTLP/HTTP collector: takes the protobuf export requests the silos send to /v1/traces and
/// /v1/metrics and keeps the spans (ids, parent, name) and metric names. It reads the protobuf wire
/// format directly (field numbers from opentelemetry-proto's trace and metrics messages).
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    public sealed record Span(string TraceId, string SpanId, string ParentSpanId, string Name, string Service);

    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    public ConcurrentBag<Span> Spans { get; } = new();
    public ConcurrentDictionary<string, int> Metrics { get; } = new();
    /// <summary>Every export as it arrived (decompressed protobuf), for checks on what the silos send at all.</summary>
    public ConcurrentBag<byte[]> Payloads { get; } = new();
    public string Endpoint { get; }

    public OtlpReceiver()
    {
        var port = Ports.Free();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            using var body = new MemoryStream();
            var input = context.Request.Headers["Content-Encoding"] == "gzip" ? new GZipStream(context.Request.InputStream, CompressionMode.Decompress) : context.Request.InputStream;
            await input.CopyToAsync(body);
            var message = body.ToArray();
            Payloads.Add(message);
            if (context.Request.Url!.AbsolutePath.EndsWith("/v1/traces")) ReadTraces(message);
            else if (context.Request.Url.AbsolutePath.EndsWith("/v1/metrics")) ReadMetrics(message);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    private void ReadTraces(byte[] request)
    {
        foreach (var resourceSpans in Field(request, 1))
        {
            var service = ServiceName(Field(resourceSpans, 1).FirstOrDefault() ?? []);
            foreach (var scopeSpans in Field(resourceSpans, 2))
                foreach (var span in Field(scopeSpans, 2))
                    Spans.Add(new Span(Hex(Field(span, 1)), Hex(Field(span, 2)), Hex(Field(span, 4)),
                        System.Text.Encoding.UTF8.GetString(Field(span, 5).FirstOrDefault() ?? []), service));
        }
    }

    private void ReadMetrics(byte[] request)
    {
        foreach (var resourceMetrics in Field(request, 1))
            foreach (var scopeMetrics in Field(resourceMetrics, 2))
                foreach (var metric in Field(scopeMetrics, 2))
                    Metrics.AddOrUpdate(System.Text.Encoding.UTF8.GetString(Field(metric, 1).First()), 1, (_, n) => n + 1);
    }

    /// <summary>The resource's service.name attribute (KeyValue key 1, AnyValue 2, string_value 1).</summary>
    private static string ServiceName(byte[] resource)
    {
        foreach (var attribute in Field(resource, 1))
            if (Field(attribute, 1).FirstOrDefault() is { } key && System.Text.Encoding.UTF8.GetString(key) == "service.name")
                return System.Text.Encoding.UTF8.GetString(Field(Field(attribute, 2).First(), 1).FirstOrDefault() ?? []);
        return "";
    }

    private static string Hex(IEnumerable<byte[]> values) => Convert.ToHexStringLower(values.FirstOrDefault() ?? []);

    /// <summary>The length-delimited values of one field number in a protobuf message.</summary>
    private static List<byte[]> Field(byte[] message, int number)
    {
        var found = new List<byte[]>();
        var i = 0;
        while (i < message.Length)
        {
            var key = Varint(message, ref i);
            var (field, wire) = ((int)(key >> 3), (int)(key & 7));
            switch (wire)
            {
                case 0: Varint(message, ref i); break;
                case 1: i += 8; break;
                case 5: i += 4; break;
                case 2:
                    var length = (int)Varint(message, ref i);
                    if (field == number) found.Add(message[i..(i + length)]);
                    i += length;
                    break;
                default: throw new InvalidDataException($"protobuf wire type {wire}");
            }
        }
        return found;
    }

    private static ulong Varint(byte[] m, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = m[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(5000); } catch (AggregateException) { }
    }
}
