using System.Diagnostics;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Window requests served by one forward pass of a replica, whichever transport brought them: the
/// windows stacked as rows, each row's wanted positions asked for, the answer split back per request.
/// </summary>
public static class WindowBatch
{
    /// <summary>Results in request order; <paramref name="computeMs"/> is the forward pass's time.</summary>
    public static WindowResult[] Run(ITokenDenoiser replica, IReadOnlyList<WindowRequest> requests, out double computeMs)
    {
        var length = replica.Length;
        var tokens = new long[requests.Count * length];
        var wanted = new List<WantedPosition>();
        for (var i = 0; i < requests.Count; i++)
        {
            requests[i].Tokens.CopyTo(tokens, i * length);
            foreach (var p in requests[i].Positions) wanted.Add(new WantedPosition(i, p));
        }
        var sw = Stopwatch.StartNew();
        var probs = replica.Probabilities(tokens, requests.Count, wanted);
        computeMs = sw.Elapsed.TotalMilliseconds;
        GridTelemetry.ComputeTime.Record(computeMs);
        GridTelemetry.BatchSize.Record(requests.Count);
        GridTelemetry.WindowRequests.Add(requests.Count);

        var results = new WindowResult[requests.Count];
        var offset = 0;
        for (var i = 0; i < requests.Count; i++)
        {
            var n = requests[i].Positions.Length * replica.CodebookSize;
            results[i] = new WindowResult(requests[i].RequestId, requests[i].WindowId, MemoryMarshal.AsBytes(probs.AsSpan(offset, n)).ToArray());
            offset += n;
        }
        return results;
    }
}
