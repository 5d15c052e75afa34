using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Sampling;
using Xunit;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>
/// A window silo's replicas of several models: each loaded on its first request; under a memory budget that holds
/// one, the least recently used goes when another is asked for, and comes back on demand with the same answers.
/// </summary>
public sealed class ReplicaHostTests : IDisposable
{
    /// <summary>A replica whose answers depend on its model (a peak at a model-specific code).</summary>
    private sealed class Peaked(int shift) : ITokenDenoiser
    {
        public int Length => 4;
        public int CodebookSize => 8;
        public int MaskId => 8;

        public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
        {
            var result = new float[wanted.Count * CodebookSize];
            for (var i = 0; i < wanted.Count; i++) result[i * CodebookSize + (wanted[i].Position + shift) % CodebookSize] = 1;
            return result;
        }
    }

    private readonly string _dir = Directory.CreateTempSubdirectory("ut-replica-host-").FullName;
    private readonly Dictionary<string, int> _loads = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A model of 1,000 bytes whose replicas peak at <paramref name="shift"/>.</summary>
    private ModelEntry Model(string name, int shift)
    {
        var path = Path.Combine(_dir, $"{name}.th");
        File.WriteAllBytes(path, [.. Enumerable.Repeat((byte)shift, 1000)]);
        return new ModelEntry(name, path, "");
    }

    private ReplicaHost Host(long budget) => new(m =>
    {
        lock (_loads) _loads[m.Name] = _loads.GetValueOrDefault(m.Name) + 1;
        return new ReplicaModel(new Peaked(File.ReadAllBytes(m.Prior)[0]), m.Version);
    }, 1, 4, TimeSpan.FromMilliseconds(1), "cpu", memoryBudget: budget);

    private static readonly WindowRequest[] Requests = [new(1, 0, [8, 8, 8, 8], [0, 1, 2, 3])];

    private static async Task<byte[]> Answer(ReplicaHost host, ModelEntry model) =>
        (await host.EvaluateAsync(0, model, WindowFlow.Anonymous, Requests, CancellationToken.None))[0].Probabilities;

    [Fact]
    public async Task UnderABudgetForOneModelTheLeastRecentlyUsedIsUnloadedAndReloadedOnDemand()
    {
        var (a, b) = (Model("a", 1), Model("b", 5));
        await using var host = Host(budget: 1500);
        var first = await Answer(host, a);
        Assert.Equal([a.Key], host.Loaded());
        var other = await Answer(host, b);
        Assert.NotEqual(first, other);
        Assert.Equal([b.Key], host.Loaded());
        // a was unloaded for b; asked for again, it is loaded again and answers as before.
        Assert.Equal(first, await Answer(host, a));
        Assert.Equal([a.Key], host.Loaded());
        Assert.Equal(2, _loads["a"]);
        Assert.Equal(1, _loads["b"]);
        Assert.Equal((3, 3), host.Served(0));
    }

    [Fact]
    public async Task WithoutABudgetEveryModelAskedForStaysLoadedMostRecentFirst()
    {
        var (a, b) = (Model("a", 1), Model("b", 5));
        await using var host = Host(budget: 0);
        await Answer(host, a);
        await Answer(host, b);
        await Answer(host, a);
        Assert.Equal([a.Key, b.Key], host.Loaded());
        Assert.Equal(1, _loads["a"]);
    }

    [Fact]
    public async Task AModelThatFailsToLoadIsReportedAndTriedAgainOnTheNextRequest()
    {
        var missing = new ModelEntry("gone", Path.Combine(_dir, "gone.th"), "");
        await using var host = Host(budget: 0);
        await Assert.ThrowsAsync<FileNotFoundException>(() => Answer(host, missing));
        Assert.Empty(host.Loaded());
        File.WriteAllBytes(missing.Prior, [.. Enumerable.Repeat((byte)3, 1000)]);
        Assert.Equal(1, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(await Answer(host, missing))[3]);   // position 0's peak: code 0 + shift 3
    }
}
