using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using UnleashingTransformers.Grid.Jobs;

namespace UnleashingTransformers.Silo.Gateway;

/// <summary>
/// The HTTP API. Jobs live in the state directory (<see cref="JobStore"/>), so the gateway answers
/// from there whether the canvas role runs in this silo or in another one sharing the directory.
/// </summary>
internal static class GatewayApi
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private static IResult Error(int status, string message) => Results.Json(new { error = message }, Json, statusCode: status);

    public static void Map(WebApplication app, SiloConfig config, SiloState state, JobStore store, PriorInfo prior)
    {
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", () =>
        {
            var (ready, waiting) = state.Check();
            return ready ? Results.Text("ready") : Error(503, $"not ready: {string.Join("; ", waiting)}");
        });

        app.MapPost("/jobs", async (HttpRequest request, HttpResponse response) =>
        {
            CanvasJobSpec? spec;
            try
            {
                spec = await JsonSerializer.DeserializeAsync<CanvasJobSpec>(request.Body, Json);
            }
            catch (JsonException e)
            {
                return Error(400, $"request body is not a job: {e.Message}");
            }
            if (spec is null) return Error(400, "request body is empty: send a JSON job, e.g. {\"height\":32,\"width\":64,\"seed\":1}");
            try
            {
                spec.ToOptions(prior.GridHeight, prior.GridWidth, config.Gateway.MaxTokens);
            }
            catch (ArgumentException e)
            {
                return Error(400, e.Message);
            }
            var job = store.Create(spec, prior.Version);
            state.JobsChanged.Release();
            response.Headers.Location = $"/jobs/{job.Id}";
            return Results.Json(store.Status(job.Id), Json, statusCode: 202);
        });

        app.MapGet("/jobs/{id}", (string id) => store.Status(id) is { } s ? Results.Json(s, Json) : Error(404, $"no job {id}"));

        app.MapGet("/jobs/{id}/image", (string id) =>
        {
            if (store.Status(id) is not { } s) return Error(404, $"no job {id}");
            if (s.State != JobState.Done) return Error(409, $"job {id} is {s.State.ToString().ToLowerInvariant()} (step {s.Step}/{s.Steps}): the image exists once it is done");
            return Results.File(store.ImagePath(id), "image/png");
        });

        app.MapDelete("/jobs/{id}", (string id) =>
        {
            if (store.Status(id) is not { } s) return Error(404, $"no job {id}");
            if (s.Finished) return Error(409, $"job {id} is already {s.State.ToString().ToLowerInvariant()}");
            store.RequestCancel(id);
            // Nobody running it (queued, or its silo is gone): cancel it here; else its runner stops at the next step.
            if (store.TryClaim(id) is { } claim)
                using (claim)
                    store.WriteStatus(s = s with { State = JobState.Cancelled, Updated = DateTimeOffset.UtcNow });
            state.JobsChanged.Release();
            return Results.Json(s, Json, statusCode: 202);
        });
    }
}
