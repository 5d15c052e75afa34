using System.Diagnostics;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Window requests served together by a replica, whichever transport brought them. Each window runs in a
/// forward pass of its own: a pass's float results depend on its shapes (BLAS picks kernels by shape:
/// measured here, the output head over M gathered positions gives other bits at M = 1 than at M >= 3), so
/// a window computed alone gives the same bits whatever else was queued with it, and the determinism
/// contract holds for any batch limit, replica count or batch composition. What batching still buys is
/// one queue take and one grain call for many windows; bench/README.md measures what the separate
/// passes cost against stacked ones.
/// </summary>
public static class WindowBatch
{
    /// <summary>Results in request order; <paramref name="computeMs"/> is the forward passes' time.</summary>
    public static WindowResult[] Run(ITokenDenoiser replica, IReadOnlyList<WindowRequest> requests, out double computeMs)
    {
        var results = new WindowResult[requests.Count];
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            var probs = replica.Probabilities(r.Tokens, 1, [.. r.Positions.Select(p => new WantedPosition(0, p))]);
            results[i] = new WindowResult(r.RequestId, r.WindowId, MemoryMarshal.AsBytes(probs.AsSpan()).ToArray());
        }
        computeMs = sw.Elapsed.TotalMilliseconds;
        GridTelemetry.ComputeTime.Record(computeMs);
        GridTelemetry.BatchSize.Record(requests.Count);
        GridTelemetry.WindowRequests.Add(requests.Count);
        return results;
    }
}
