using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using Orleans.TestingHost;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Placement;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Sampling;
using Xunit;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>
/// Window replica grains and the Orleans window pool on Orleans' in-process test cluster (two silos, two
/// replicas each): results equal the in-process pool's, in request order, whichever replica served them;
/// other weights are refused naming both versions; a silo that dies costs a retry, not a result.
/// </summary>
public sealed class ReplicaGrainTests : IAsyncLifetime
{
    /// <summary>A replica whose answer depends on every token of the window and on the position, so a
    /// request answered with another's window, or results out of order, would show.</summary>
    private sealed class TokenSensitive : ITokenDenoiser
    {
        public int Length => 16;
        public int CodebookSize => 8;
        public int MaskId => 8;

        public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
        {
            var result = new float[wanted.Count * CodebookSize];
            for (var i = 0; i < wanted.Count; i++)
            {
                long sum = 0;
                foreach (var t in tokens.Slice(wanted[i].Row * Length, Length)) sum += t;
                var peak = (int)((sum + wanted[i].Position) % CodebookSize);
                for (var k = 0; k < CodebookSize; k++) result[i * CodebookSize + k] = k == peak ? 0.93f : 0.01f;
            }
            return result;
        }
    }

    private InProcessTestCluster _cluster = null!;
    /// <summary>The model the silos list: a file of its own, whose hash is its version.</summary>
    private readonly string _priorFile = Path.Combine(Path.GetTempPath(), $"ut-replica-grain-{Guid.NewGuid():N}.th");
    private ModelKey _model = null!;

    public async Task InitializeAsync()
    {
        File.WriteAllText(_priorFile, "the weights of model m");
        _model = new ModelKey("m", ModelVersion.OfFile(_priorFile));
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
            silo.Services.AddSingleton<IGrainPropertiesProvider>(new GridGrainProperties(new Dictionary<Type, string> { [typeof(Grains.WindowReplicaGrain)] = "window" }, 2, "cpu"));
            silo.Services.AddSingleton(new ReplicaHost(m => new ReplicaModel(new TokenSensitive(), m.Version), 2, 4, TimeSpan.FromMilliseconds(2), "cpu"));
            silo.Services.AddSingleton(new ModelCatalog([new ModelEntry("m", _priorFile, "")], () => Task.FromResult(Array.Empty<PublishedModel>())));
            silo.Services.AddSingleton<ReplicaDirectory>();
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        File.Delete(_priorFile);
    }

    private static WindowRequest[] Requests(int count) => Enumerable.Range(0, count)
        .Select(i => new WindowRequest(100 + i, i, Enumerable.Range(0, 16).Select(t => (long)((i * 7 + t * 3) % 9)).ToArray(), [i % 16, (i + 5) % 16])).ToArray();

    private async Task<OrleansWindowPool> PoolOn(int silo, ModelKey model)
    {
        var services = _cluster.GetSiloServiceProvider(_cluster.Silos[silo].SiloAddress);
        var directory = services.GetRequiredService<ReplicaDirectory>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (directory.Current().Count < 4 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(4, directory.Current().Count);
        var prior = new PriorInfo(model.Version, 4, 4, 16, 8, 8);
        var options = new WindowPoolOptions { Timeout = TimeSpan.FromSeconds(5), WaitForReplicas = TimeSpan.FromSeconds(5) };
        return new OrleansWindowPool(services.GetRequiredService<IGrainFactory>(), new ReplicaChoice(directory, options), prior, model, options);
    }

    private static async Task<byte[][]> InProcess(WindowRequest[] requests)
    {
        await using var pool = new InProcessWindowPool([new TokenSensitive()], 4);
        return (await pool.EvaluateAsync(requests)).Select(r => r.Probabilities).ToArray();
    }

    [Fact]
    public async Task ResultsEqualTheInProcessPoolInRequestOrderAndEveryReplicaServes()
    {
        var requests = Requests(24);
        var expected = await InProcess(requests);
        var pool = await PoolOn(0, _model);
        for (var round = 0; round < 3; round++)
        {
            var results = await pool.EvaluateAsync(requests);
            Assert.Equal(requests.Select(r => r.RequestId), results.Select(r => r.RequestId));
            Assert.Equal(expected, results.Select(r => r.Probabilities).ToArray());
            Assert.Equal(2 * 8, MemoryMarshal.Cast<byte, float>(results[0].Probabilities).Length);
        }
        var grains = _cluster.GetSiloServiceProvider(_cluster.Silos[0].SiloAddress).GetRequiredService<IGrainFactory>();
        foreach (var silo in _cluster.Silos)
            for (var slot = 0; slot < 2; slot++)
            {
                var status = await grains.GetGrain<IWindowReplicaGrain>($"{silo.Name}/{slot}").StatusAsync();
                Assert.True(status.Requests > 0, $"{status.Key} served nothing");
                Assert.Equal([_model], status.Loaded);
            }
    }

    [Fact]
    public async Task RequestsForOtherWeightsOrModelsAreRefusedNamingWhatIsServed()
    {
        var pool = await PoolOn(0, _model with { Version = "0123456789abcdef" });
        var e = await Assert.ThrowsAsync<ModelMismatchException>(() => pool.EvaluateAsync(Requests(3)));
        Assert.Contains($"holds model m of version {_model.Version}", e.Message);
        Assert.Contains("asks for version 0123456789abcdef", e.Message);
        var other = await PoolOn(0, new ModelKey("other", _model.Version));
        e = await Assert.ThrowsAsync<ModelMismatchException>(() => other.EvaluateAsync(Requests(3)));
        Assert.Contains("serves no model other (it serves m)", e.Message);
    }

    [Fact]
    public async Task ADeadSiloCostsARetryNotAResult()
    {
        var requests = Requests(16);
        var expected = await InProcess(requests);
        var pool = await PoolOn(0, _model);
        await _cluster.KillSiloAsync(_cluster.Silos[1]);
        for (var round = 0; round < 3; round++)
            Assert.Equal(expected, (await pool.EvaluateAsync(requests)).Select(r => r.Probabilities).ToArray());
    }
}
