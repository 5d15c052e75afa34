using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Orleans.Dashboard;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// The HTTP API, co-hosted in a silo: its calls to job grains are calls from inside the cluster (no
/// external-client hop, which would wait out a 30 s timeout when a silo dies). The Orleans dashboard is
/// served beside it at <c>/dashboard</c>. Off loopback, both require the gateway's token (<see cref="PortAccess"/>).
/// </summary>
internal sealed class GatewayApi
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // A body means one thing: keys as documented (camelCase, case-sensitive), each once, none unknown.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        PropertyNameCaseInsensitive = false,
        AllowDuplicateProperties = false,
        NumberHandling = JsonNumberHandling.Strict,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Where the gateway publishes its OpenAPI document.</summary>
    public const string OpenApiPath = "/openapi/{documentName}.json";

    /// <summary>How often the event stream looks at a job's status.</summary>
    private static readonly TimeSpan EventPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>An error response: <c>{"error": "..."}</c>, one line (<see cref="PublicError"/>).</summary>
    public static IResult Error(int status, string message) => Results.Json(new ApiError(PublicError.Of(message)), Json, statusCode: status);

    /// <summary>A request body the API reads: JSON by its content type (a cross-site form cannot send that without
    /// the browser asking first), else 415.</summary>
    private static async Task<(T? value, IResult? error)> ReadBodyAsync<T>(HttpRequest request, string what) where T : class
    {
        if (!request.HasJsonContentType()) return (null, Error(415, $"send {what} as Content-Type: application/json"));
        try
        {
            return (await JsonSerializer.DeserializeAsync<T>(request.Body, Json), null);
        }
        catch (JsonException e)
        {
            return (null, Error(400, $"request body is not {what}: {e.Message}"));
        }
        catch (ArgumentException e)
        {
            // JsonObject's own refusal of a key it already holds.
            return (null, Error(400, $"request body is not {what}: a duplicate key ({e.Message})"));
        }
    }

    /// <summary>The web page's static files (no job data in them).</summary>
    public static bool IsPageFile(PathString path) =>
        path == "/" || path == "/index.html" || path == "/app.js" || path == "/app.css" || path.StartsWithSegments("/lib/openseadragon");

    /// <summary>The page, then the API's routes, one line each: path, handler, and what the OpenAPI document says of it.</summary>
    public static void Map(WebApplication app)
    {
        ServePage(app);
        var api = new GatewayApi(app.Services.GetRequiredService<IGrainFactory>(), app.Logger);
        string[] read = [HttpMethods.Get, HttpMethods.Head];

        app.MapPost("/jobs", api.SubmitAsync).WithName("SubmitJob").WithSummary("Submit a canvas job")
            .Accepts<CanvasJobSpec>("application/json").Produces<JobStatus>(202)
            .Produces<ApiError>(400).Produces<ApiError>(415).Produces<ApiError>(429).Produces<ApiError>(503);
        app.MapPost("/jobs/{id}/edit", api.EditAsync).WithName("EditJob").WithSummary("A new job from a done job's canvas with a region regenerated")
            .Accepts<JobEdit>("application/json").Produces<JobStatus>(202)
            .Produces<ApiError>(400).Produces<ApiError>(404).Produces<ApiError>(409).Produces<ApiError>(415).Produces<ApiError>(429);
        app.MapGet("/defaults", Defaults).WithName("JobDefaults").WithSummary("A job's defaults (preset best), or a preset's settings (?preset=reference)")
            .Produces<CanvasJobSpec>().Produces<ApiError>(400);
        app.MapGet("/jobs", api.ListAsync).WithName("ListJobs").WithSummary("Jobs, newest first").Produces<JobList>();
        app.MapGet("/jobs/{id}", api.GetAsync).WithName("GetJob").WithSummary("A job's status").Produces<JobStatus>().Produces<ApiError>(404);
        app.MapMethods("/jobs/{id}/image", read, api.ImageAsync).WithName("GetImage").WithSummary("A done job's PNG (Range, ETag)")
            .Produces(200, contentType: "image/png").Produces(206, contentType: "image/png").Produces<ApiError>(404).Produces<ApiError>(409);
        app.MapGet("/jobs/{id}/preview.png", api.PreviewAsync).WithName("GetPreview").WithSummary("The canvas as it stands, one pixel a token")
            .Produces(200, contentType: "image/png").Produces<ApiError>(404);
        app.MapMethods("/jobs/{id}/image.dzi", read, api.PyramidAsync).WithName("GetPyramid").WithSummary("A done job's DeepZoom descriptor")
            .Produces(200, contentType: "application/xml").Produces<ApiError>(404);
        app.MapMethods("/jobs/{id}/image_files/{level}/{tile}", read, api.PyramidTileAsync).WithName("GetPyramidTile").WithSummary("One tile of the DeepZoom pyramid")
            .Produces(200, contentType: "image/jpeg").Produces<ApiError>(404);
        app.MapGet("/jobs/{id}/events", api.EventsAsync).WithName("JobEvents").WithSummary("Server-Sent Events: status whenever it changes")
            .Produces(200, contentType: "text/event-stream").Produces<ApiError>(404);
        app.MapDelete("/jobs/{id}", api.CancelAsync).WithName("CancelJob").WithSummary("Cancel a job")
            .Produces<JobStatus>(202).Produces<ApiError>(404).Produces<ApiError>(409);

        app.MapOrleansDashboard("/dashboard");
        // The API described (OpenAPI 3.1): every route above with its bodies and answers.
        app.MapOpenApi(OpenApiPath);
    }

    /// <summary>The web page: index.html, its script and style, OpenSeadragon (copied from npm at build time).</summary>
    private static void ServePage(WebApplication app)
    {
        var page = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
    }

    private readonly IGrainFactory _grains;
    private readonly IJobIndexGrain _index;
    private readonly ILogger _logger;

    private GatewayApi(IGrainFactory grains, ILogger logger) => (_grains, _index, _logger) = (grains, grains.GetGrain<IJobIndexGrain>(0), logger);

    private ICanvasJobGrain Job(string id) => _grains.GetGrain<ICanvasJobGrain>(id);

    private async Task<IResult> SubmitAsync(HttpRequest request, HttpResponse response)
    {
        // The HTTP server span (ASP.NET Core's, unnamed without its instrumentation package) roots the job's trace.
        if (Activity.Current is { } http) http.DisplayName = "POST /jobs";
        using var activity = GridTelemetry.Source.StartActivity("gateway.submit");
        var (spec, error) = await ReadBodyAsync<CanvasJobSpec>(request, "a job");
        if (error is not null) return error;
        if (spec is null) return Error(400, "request body is empty: send a JSON job, e.g. {\"height\":32,\"width\":64,\"seed\":1}");
        return await SubmitSpecAsync(spec, response, activity);
    }

    /// <summary>An edit: a new job from a done job's canvas with a region regenerated. The body is the region and
    /// any job fields to change (seed, steps, schedule, temperature, ...); the rest is the source's spec.</summary>
    private async Task<IResult> EditAsync(string id, HttpRequest request, HttpResponse response)
    {
        using var activity = GridTelemetry.Source.StartActivity("gateway.edit");
        if (!JobIds.Valid(id) || await StatusOrErrorAsync(id) is not { } s) return Error(404, $"no job {id}");
        if (s.State != JobState.Done) return Error(409, $"job {id} is {s.State.ToString().ToLowerInvariant()}: only a done job can be edited");
        var (body, error) = await ReadBodyAsync<JsonObject>(request, "an edit");
        if (error is not null) return error;
        if (body is null || !body.ContainsKey("region"))
            return Error(400, "send the region to regenerate and a seed, e.g. {\"region\":\"4:12,8:24\",\"seed\":7} (half-open token rows and columns)");
        if (await Job(id).CanvasAsync() is not { } source) return Error(409, $"job {id} keeps no canvas to edit");
        var merged = JsonSerializer.SerializeToNode(source.Spec, Json)!.AsObject();
        foreach (var (key, value) in body)
        {
            if (key == "source") return Error(400, "an edit's source is the job in its path");
            if (key is "height" or "width" && !JsonNode.DeepEquals(merged[key], value))
                return Error(400, $"an edit keeps the source's shape ({source.Spec.Height}x{source.Spec.Width}): leave out {key}");
            merged[key] = value?.DeepClone();
        }
        merged["source"] = id;
        CanvasJobSpec spec;
        try
        {
            spec = merged.Deserialize<CanvasJobSpec>(Json)!;
        }
        catch (JsonException e)
        {
            return Error(400, $"request body is not an edit: {e.Message}");
        }
        return await SubmitSpecAsync(spec, response, activity);
    }

    private async Task<IResult> SubmitSpecAsync(CanvasJobSpec spec, HttpResponse response, Activity? activity)
    {
        try
        {
            // The canvas job grain checks the spec (JobSpecs, the one check) and stamps its silo's weights version.
            var status = await JobSubmission.SubmitAsync(_grains, spec);
            activity?.SetTag("ut.job", status.Id);
            response.Headers.Location = $"/jobs/{status.Id}";
            return Results.Json(status, Json, statusCode: 202);
        }
        catch (JobQueueFullException e)
        {
            response.Headers.RetryAfter = "10";
            return Error(429, e.Message);
        }
        catch (Exception e) when (JobSubmission.NoSiloHosts(e))
        {
            return Error(503, "no canvas silo in the cluster: start a silo with the canvas role");
        }
        catch (ArgumentException e)
        {
            return Error(400, e.Message);
        }
    }

    /// <summary>What a job that sets nothing gets (the page's form starts from it), or a preset's settings.</summary>
    private static IResult Defaults(string? preset)
    {
        try
        {
            return Results.Json(JobPresets.Resolved(JobPresets.Of(preset ?? "best")), Json);
        }
        catch (ArgumentException e)
        {
            return Error(400, e.Message);
        }
    }

    private async Task<IResult> ListAsync(int? offset, int? limit)
    {
        var page = await _index.ListAsync(offset ?? 0, Math.Clamp(limit ?? 20, 1, 100));
        var jobs = await Task.WhenAll(page.Ids.Select(StatusOrErrorAsync));
        return Results.Json(new JobList(page.Total, offset ?? 0, [.. jobs.OfType<JobStatus>()]), Json);
    }

    private async Task<IResult> GetAsync(string id) =>
        JobIds.Valid(id) && await StatusOrErrorAsync(id) is { } s ? Results.Json(s, Json) : Error(404, $"no job {id}");

    private async Task<JobStatus?> StatusOrErrorAsync(string id)
    {
        try
        {
            return await Job(id).StatusAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A job the index found unreadable is failed, naming why. Otherwise its silo is not answering (it
            // died and membership has not said so yet, or storage is out): the job resumes from its last saved
            // step elsewhere, so it is reported resuming, never finished.
            _logger.LogInformation(e, "job {Id}: status unavailable", id);
            string? error = null;
            try
            {
                error = await _index.ErrorAsync(id);
            }
            catch (Exception again) when (again is not OperationCanceledException)
            {
                // The index is out of reach as well (storage): nothing says the job failed.
            }
            return error is not null
                ? new JobStatus(id, JobState.Failed, 0, 0, 0, 0, error, DateTimeOffset.UtcNow)
                : new JobStatus(id, JobState.Resuming, 0, 0, 0, 0, null, DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Outputs stream from their job grain in bounded chunks (JobOutputStream), never whole in memory or in one
    /// grain message, with Content-Length, ETag and Range requests (206: resumable downloads of any size).</summary>
    private async Task<IResult> OutputAsync(string id, string file, string missing)
    {
        if (!JobIds.Valid(id) || await JobOutputStream.OpenAsync(Job(id), file) is not { } stream) return Error(404, missing);
        return Results.Stream(stream, stream.Info.ContentType, entityTag: new EntityTagHeaderValue(stream.Info.ETag), enableRangeProcessing: true);
    }

    private async Task<IResult> ImageAsync(string id)
    {
        if (!JobIds.Valid(id) || await StatusOrErrorAsync(id) is not { } s) return Error(404, $"no job {id}");
        if (s.State != JobState.Done) return Error(409, $"job {id} is {s.State.ToString().ToLowerInvariant()} (step {s.Step}/{s.Steps}): the image exists once it is done");
        return await OutputAsync(id, "image.png", $"job {id}: its image is gone");
    }

    private Task<IResult> PreviewAsync(string id, HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        return OutputAsync(id, "preview.png", $"no job {id} to preview");
    }

    /// <summary>A finished job's DeepZoom pyramid, for OpenSeadragon: the .dzi names its tiles image_files/LEVEL/COL_ROW.jpeg.</summary>
    private Task<IResult> PyramidAsync(string id) => OutputAsync(id, "image.dzi", $"job {id} has no image pyramid (yet)");

    private Task<IResult> PyramidTileAsync(string id, string level, string tile) =>
        OutputAsync(id, $"image_files/{level}/{tile}", $"no tile {level}/{tile} of job {id}");

    /// <summary>Progress as Server-Sent Events: a "status" event (the job's status JSON) whenever the step or state
    /// changes, the last one when the job is finished; a comment every 15 s keeps proxies from closing it.</summary>
    private async Task EventsAsync(string id, HttpContext context)
    {
        if (!JobIds.Valid(id) || await StatusOrErrorAsync(id) is not { } first)
        {
            await Error(404, $"no job {id}").ExecuteAsync(context);
            return;
        }
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        var cancel = context.RequestAborted;
        var (last, quiet) = ((JobStatus?)null, Stopwatch.StartNew());
        try
        {
            for (var status = first; ; status = await StatusOrErrorAsync(id) ?? status with { State = JobState.Failed, Error = "the job is gone" })
            {
                // A job resuming elsewhere keeps the progress it last showed.
                if (status.State == JobState.Resuming && last is not null) status = last with { State = JobState.Resuming, Updated = status.Updated };
                if (last is null || status.Step != last.Step || status.State != last.State || status.Revealed != last.Revealed)
                {
                    await response.WriteAsync($"event: status\ndata: {JsonSerializer.Serialize(status, Json)}\n\n", cancel);
                    await response.Body.FlushAsync(cancel);
                    (last, quiet) = (status, Stopwatch.StartNew());
                }
                else if (quiet.Elapsed > TimeSpan.FromSeconds(15))
                {
                    await response.WriteAsync(": waiting\n\n", cancel);
                    await response.Body.FlushAsync(cancel);
                    quiet.Restart();
                }
                if (status.Finished) return;
                await Task.Delay(EventPoll, cancel);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private async Task<IResult> CancelAsync(string id)
    {
        if (!JobIds.Valid(id) || await StatusOrErrorAsync(id) is not { } s) return Error(404, $"no job {id}");
        if (s.Finished) return Error(409, $"job {id} is already {s.State.ToString().ToLowerInvariant()}");
        return Results.Json(await Job(id).CancelAsync(), Json, statusCode: 202);
    }
}

/// <summary>An error answer of the API: one line naming the problem.</summary>
public sealed record ApiError(string Error);

/// <summary>A page of the job list, newest first.</summary>
public sealed record JobList(int Total, int Offset, JobStatus[] Jobs);

/// <summary>An edit: the token region to regenerate (<c>R0:R1,C0:C1</c>, half-open) and any job fields to change
/// (seed, steps, schedule, temperature, ...); the rest is the source job's.</summary>
public sealed record JobEdit(string Region, ulong? Seed = null, int? Steps = null, string? Schedule = null, double? Temperature = null);
