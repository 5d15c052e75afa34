using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Training;
using Xunit;

namespace UnleashingTransformers.Grid.Tests;

/// <summary>The rule by which a data-parallel run's roster forms generations of ranks from the trainer silos checking in.</summary>
public class RankRosterTests
{
    private static readonly DateTime T = DateTime.UnixEpoch;

    private static TrainerCheckIn In(string silo, long generation = 0, int min = 1, int max = 2) => new(silo, $"host-{silo}", silo[0], min, max, generation);

    private static RankAssignment At(RankRoster roster, string silo, double seconds, long generation = 0, int min = 1, int max = 2) =>
        roster.CheckIn(In(silo, generation, min, max), T.AddSeconds(seconds));

    [Fact]
    public void GenerationsAreFormedFromTheSilosAliveAndAgainWithoutALostRank()
    {
        var roster = new RankRoster();
        Assert.False(At(roster, "b", 0).Assigned);                       // waits for more, up to the maximum
        Assert.Equal(new RankAssignment(1, 0, 2, "host-a:97", false), At(roster, "a", 1));   // two: formed, in name order
        Assert.Equal(new RankAssignment(1, 1, 2, "host-a:97", false), At(roster, "b", 1.5, 1));

        // Rank 0's run fails (a rank left): the next generation only from silos seen after the break, after the grace.
        roster.Report("b", 1, finished: false, T.AddSeconds(5));
        Assert.False(At(roster, "b", 5.5).Assigned);
        Assert.Equal(new RankAssignment(2, 0, 1, "host-b:98", false), At(roster, "b", 7.5));   // a died: not counted
        Assert.False(At(roster, "c", 8).Assigned);                      // a spare while generation 2 runs
        Assert.Equal(2, roster.Current?.number);

        // A rank that stops checking in is gone after the timeout, which breaks its generation.
        Assert.False(At(roster, "c", 14).Assigned);
        Assert.Null(roster.Current);
        Assert.Equal(new RankAssignment(3, 0, 1, "host-c:99", false), At(roster, "c", 16.1));

        // Every step done: the run is over for its ranks; a silo starting afresh later begins a new run.
        roster.Report("c", 3, finished: true, T.AddSeconds(20));
        Assert.True(At(roster, "c", 20.5, 3).Finished);
        Assert.True(At(roster, "d", 21).Finished);
        Assert.Equal(4, At(roster, "d", 40).Generation);
    }

    [Fact]
    public void AGenerationNeedsTheMinimumAndANewRosterNumbersOnFromWhatTheSilosRan()
    {
        var roster = new RankRoster();
        Assert.False(At(roster, "a", 0, min: 2, max: 3).Assigned);
        Assert.False(At(roster, "a", 30, min: 2, max: 3).Assigned);     // one silo of at least two: never alone
        Assert.Equal(new RankAssignment(1, 1, 2, "host-a:97", false), At(roster, "b", 31, min: 2, max: 3));   // two, gathered long enough
        var fresh = new RankRoster();   // a new activation: the silos say which generation they ran
        Assert.Equal(8, At(fresh, "a", 0, generation: 7, max: 1).Generation);
    }
}
