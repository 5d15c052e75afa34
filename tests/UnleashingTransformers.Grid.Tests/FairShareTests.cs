using System.Collections.Concurrent;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using Xunit;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>The replicas' fair share across jobs: the queue's order, and a small job beside a big one on a real pool.</summary>
public sealed class FairShareTests
{
    private static List<string> TakeAll(FairShare<string> queue)
    {
        var taken = new List<string>();
        while (queue.TryTake(out var item, TimeSpan.Zero)) taken.Add(item);
        return taken;
    }

    [Fact]
    public void FlowsShareTakesByWeightAndEachKeepsItsOrder()
    {
        var queue = new FairShare<string>();
        for (var i = 0; i < 100; i++) queue.Add("big", 1, $"big{i}");
        for (var i = 0; i < 3; i++) queue.Add("small", 1, $"small{i}");
        var taken = TakeAll(queue);
        Assert.Equal(103, taken.Count);
        // Equal weights: the small job's windows alternate with the big one's from the moment they arrive, not after 100.
        Assert.True(taken.IndexOf("small2") < 8, string.Join(",", taken.Take(10)));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"big{i}"), taken.Where(t => t.StartsWith("big", StringComparison.Ordinal)));

        // An interactive flow (weight 8) against two batch flows: 8 of every 10 takes while all wait.
        foreach (var flow in new[] { "b1", "b2" })
            for (var i = 0; i < 50; i++) queue.Add(flow, 1, flow);
        for (var i = 0; i < 40; i++) queue.Add("i", JobPriorities.InteractiveWeight, "i");
        var first = TakeAll(queue).Take(50).ToList();
        Assert.InRange(first.Count(t => t == "i"), 38, 40);
        Assert.InRange(first.Count(t => t == "b1"), 4, 6);
    }

    [Fact]
    public async Task ASmallJobsWindowsOvertakeABigJobsQueueOnTheReplica()
    {
        // One replica, 2 ms a window pass: the big job queues 300 windows, then the small one 8.
        await using var pool = new InProcessWindowPool([new SimulatedDenoiser(64, 16, TimeSpan.FromMilliseconds(2))], maxBatch: 4);
        WindowRequest Window(int id) => new(id, id, new long[64], [0]);
        var finished = new ConcurrentQueue<string>();
        async Task Run(string job, JobPriority priority, int windows)
        {
            var tasks = Enumerable.Range(0, windows).Select(i => pool.EvaluateAsync([Window(i)], new WindowFlow(job, priority))
                .ContinueWith(_ => finished.Enqueue(job), TaskScheduler.Default)).ToList();
            await Task.WhenAll(tasks);
        }
        var big = Run("big", JobPriority.Batch, 300);
        await Task.Delay(20);
        await Run("small", JobPriority.Interactive, 8);
        var done = finished.ToList();
        // The small job finished while most of the big one still waited (FIFO would put it after all 300).
        Assert.True(done.Count(j => j == "big") < 100, $"{done.Count(j => j == "big")} of the big job's windows ran before the small job's 8");
        await big;
        Assert.Equal(308, finished.Count);
    }
}
