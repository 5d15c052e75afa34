using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using UnleashingTransformers.Grid;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// <c>GET /models</c>: the models the grid serves, as the silos list them in the cluster manifest (canvas silos'
/// order: the first is the default) and as trainers published them; for each, its current version, the window
/// silos that serve it and where it is loaded now (each window silo's replicas, asked).
/// </summary>
internal static class ModelsEndpoint
{
    /// <summary>How long the page waits for a window silo to say what it holds.</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    public static void Map(WebApplication app)
    {
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        var directory = app.Services.GetRequiredService<ReplicaDirectory>();
        app.MapGet("/models", async () => Results.Json(await ListAsync(grains, directory), GatewayApi.Json))
            .WithName("ListModels").WithSummary("The models the grid serves: versions, where they are loaded").Produces<ModelList>();
    }

    private static async Task<ModelList> ListAsync(IGrainFactory grains, ReplicaDirectory directory)
    {
        var (canvas, window) = (directory.Listed(SiloRoles.Canvas), directory.Listed(SiloRoles.Window));
        var published = await grains.GetGrain<IModelRegistryGrain>(0).PublishedAsync();
        // One replica a window silo (slot 0): the silo's slots share its loaded models.
        var silos = directory.Current().Where(r => r.Key.EndsWith("/0", StringComparison.Ordinal)).Select(r => (key: r.Key, name: r.Key.Split('/')[0])).ToList();
        var loaded = await Task.WhenAll(silos.Select(async s =>
        {
            try
            {
                return (silo: s.name, models: (await grains.GetGrain<IWindowReplicaGrain>(s.key).StatusAsync().WaitAsync(AskTimeout)).Loaded);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return (silo: s.name, models: Array.Empty<ModelKey>());   // not answering: nothing known loaded there
            }
        }));
        var names = canvas.Select(c => c.model.Name).Concat(window.Select(w => w.model.Name)).Concat(published.Select(p => p.Name)).Distinct();
        var list = names.Select(name =>
        {
            var newest = published.LastOrDefault(p => p.Name == name);
            var listed = canvas.Concat(window).FirstOrDefault(l => l.model.Name == name);
            var servedBy = window.Where(w => w.model.Name == name).SelectMany(w => w.silos).Distinct().ToArray();
            return new ModelInfo(name, newest?.Version ?? listed.model.Version, canvas.Count > 0 && canvas[0].model.Name == name, newest is not null,
                servedBy.Length > 0 ? servedBy : [.. silos.Select(s => s.name)],
                [.. loaded.SelectMany(l => l.models.Where(m => m.Name == name).Select(m => new LoadedModel(l.silo, m.Version)))]);
        });
        return new ModelList([.. list]);
    }
}

/// <summary>The models the grid serves, the default first among those canvas silos list.</summary>
public sealed record ModelList(ModelInfo[] Models);

/// <summary>A model: its name (what a job's <c>model</c> names), the version a job submitted now gets, whether it is
/// the default, whether that version was published by a trainer, the window silos that serve it, and the versions
/// loaded on which window silos now.</summary>
public sealed record ModelInfo(string Name, string Version, bool Default, bool Published, string[] ServedBy, LoadedModel[] Loaded);

/// <summary>A version of a model loaded on a window silo.</summary>
public sealed record LoadedModel(string Silo, string Version);
