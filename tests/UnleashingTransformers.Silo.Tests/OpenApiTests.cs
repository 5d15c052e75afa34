using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// The gateway's OpenAPI document against the gateway itself: every route and method it serves is described,
/// and what the endpoints really return (a job, the list, an error) fits the schemas the document gives them.
/// </summary>
public sealed class OpenApiTests : GridTest
{
    /// <summary>The routes of the API (README's table), with their methods.</summary>
    private static readonly (string path, string method)[] Routes =
    [
        ("/jobs", "post"), ("/jobs", "get"), ("/jobs/{id}", "get"), ("/jobs/{id}", "delete"), ("/jobs/{id}/edit", "post"),
        ("/jobs/{id}/image", "get"), ("/jobs/{id}/image", "head"), ("/jobs/{id}/preview.png", "get"), ("/jobs/{id}/image.dzi", "get"),
        ("/jobs/{id}/image_files/{level}/{tile}", "get"), ("/jobs/{id}/events", "get"), ("/healthz", "get"), ("/readyz", "get"),
        ("/session", "post"), ("/session", "delete"), ("/models", "get"), ("/defaults", "get"),
    ];

    [Fact]
    public async Task TheDocumentDescribesEveryRouteAndTheAnswersFitItsSchemas()
    {
        var port = Ports.Free();
        using var silo = UtProcess.Silo(Config("silo.json", new { Roles = new[] { "window", "canvas", "gateway" }, Gateway = new { Port = port } }));
        var http = await ReadyGateway(port);
        using var doc = JsonDocument.Parse(await http.GetStringAsync("openapi/v1.json"));
        var root = doc.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString());
        var paths = root.GetProperty("paths");
        foreach (var (path, method) in Routes)
            Assert.True(paths.TryGetProperty(path, out var item) && item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} is not in the document");
        Assert.DoesNotContain(paths.EnumerateObject(), p => p.Name.StartsWith("/dashboard", StringComparison.Ordinal));
        // Nothing documented that the gateway does not serve.
        Assert.All(paths.EnumerateObject(), p => Assert.Contains(Routes, r => r.path == p.Name));

        JsonElement Schema(string path, string method, string status, bool request = false)
        {
            var operation = paths.GetProperty(path).GetProperty(method);
            var content = request ? operation.GetProperty("requestBody").GetProperty("content") : operation.GetProperty("responses").GetProperty(status).GetProperty("content");
            return content.GetProperty("application/json").GetProperty("schema");
        }
        var schemas = root.GetProperty("components").GetProperty("schemas");

        // A job as submitted, its status, the list, a refusal: each answer fits its documented schema.
        var job = new { height = 8, width = 8, steps = 4, seed = 3, priority = "interactive" };
        Fits(JsonSerializer.SerializeToElement(job), Schema("/jobs", "post", "", request: true), schemas, "POST /jobs body");
        var created = await http.PostAsJsonAsync("jobs", job);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var status = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Fits(status, Schema("/jobs", "post", "202"), schemas, "POST /jobs 202");
        var id = status.GetProperty("id").GetString()!;
        await WaitForState(http, id, "done", 60);
        Fits(await Status(http, id), Schema("/jobs/{id}", "get", "200"), schemas, "GET /jobs/{id}");
        Fits(JsonDocument.Parse(await http.GetStringAsync("jobs")).RootElement, Schema("/jobs", "get", "200"), schemas, "GET /jobs");
        var refused = await http.PostAsJsonAsync("jobs", new { height = 8, width = 8, steps = -1 });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Fits(JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement, Schema("/jobs", "post", "400"), schemas, "POST /jobs 400");
        var missing = await http.GetAsync("jobs/0123456789abcdef");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Fits(JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement, Schema("/jobs/{id}", "get", "404"), schemas, "GET /jobs/{id} 404");
        Fits(JsonDocument.Parse(await http.GetStringAsync("models")).RootElement, Schema("/models", "get", "200"), schemas, "GET /models");
        Fits(JsonDocument.Parse(await http.GetStringAsync("defaults?preset=reference")).RootElement, Schema("/defaults", "get", "200"), schemas, "GET /defaults");
        // The document's enum for a job's state is what the API writes.
        Assert.Contains("resuming", schemas.GetProperty("JobState").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }

    /// <summary>Checks <paramref name="value"/> against a JSON schema of the kinds the document uses: $ref, type (or
    /// several), properties, required, items, enum. Unknown properties are a failure: the document must name them all.</summary>
    private static void Fits(JsonElement value, JsonElement schema, JsonElement schemas, string where)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            Fits(value, schemas.GetProperty(reference.GetString()!.Split('/')[^1]), schemas, where);
            return;
        }
        if (schema.TryGetProperty("enum", out var values))
            Assert.True(values.EnumerateArray().Any(v => v.ToString() == value.ToString()), $"{where}: {value} is none of {values}");
        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            var kind = value.ValueKind switch
            {
                JsonValueKind.Object => "object",
                JsonValueKind.Array => "array",
                JsonValueKind.String => "string",
                JsonValueKind.Null => "null",
                JsonValueKind.True or JsonValueKind.False => "boolean",
                JsonValueKind.Number => value.TryGetInt64(out _) && types.Contains("integer") ? "integer" : "number",
                _ => "?",
            };
            Assert.True(types.Contains(kind) || kind == "integer" && types.Contains("number"), $"{where}: {value} is a {kind}, the document says {type}");
        }
        if (value.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var properties))
        {
            foreach (var p in value.EnumerateObject())
            {
                Assert.True(properties.TryGetProperty(p.Name, out var inner), $"{where}: property {p.Name} is not in the document");
                Fits(p.Value, inner, schemas, $"{where}.{p.Name}");
            }
            if (schema.TryGetProperty("required", out var required))
                foreach (var name in required.EnumerateArray())
                    Assert.True(value.TryGetProperty(name.GetString()!, out _), $"{where}: required {name} is missing");
        }
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
            foreach (var item in value.EnumerateArray()) Fits(item, items, schemas, $"{where}[]");
    }
}
