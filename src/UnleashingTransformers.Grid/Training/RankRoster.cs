using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Training;

/// <summary>
/// Who trains in a data-parallel run (<see cref="ITrainingRunGrain"/>'s rule). Silos check in every second; one not
/// seen for <see cref="MemberTimeout"/> is gone. A generation is formed from the silos alive, in name order, at most
/// the run's maximum, once at least its minimum are there and either the maximum is or the roster has gathered long
/// enough (<see cref="Gather"/> from the first check-in, <see cref="Grace"/> after a break); rank 0's store is that
/// silo's. A generation breaks when a rank reports its run failed or is gone; the next is formed only from silos that
/// checked in after the break, so a rank that died with it (and reports nothing) is not counted again. A silo that
/// comes while a generation runs waits, and is taken in when the next is formed.
/// </summary>
public sealed class RankRoster
{
    public static readonly TimeSpan MemberTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan Gather = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, (TrainerCheckIn checkIn, DateTime seen)> _members = [];
    private (long number, string[] ranks)? _current;
    private long _last;
    private DateTime? _brokenAt, _firstSeen;
    private DateTime? _finishedAt;

    /// <summary>The generation running now and its silos in rank order (null: none).</summary>
    public (long number, string[] ranks)? Current => _current;

    public RankAssignment CheckIn(TrainerCheckIn c, DateTime now)
    {
        _members[c.Silo] = (c, now);
        _firstSeen ??= now;
        _last = Math.Max(_last, c.Generation);   // a new activation numbers on from what the silos ran
        if (_finishedAt is { } finished)
        {
            // The run is over for its ranks; a silo starting afresh once they have gone begins a run anew.
            if (c.Generation > 0 || now - finished < MemberTimeout) return RankAssignment.Over;
            _finishedAt = null;
        }
        foreach (var gone in _members.Where(m => now - m.Value.seen > MemberTimeout).Select(m => m.Key).ToList())
        {
            _members.Remove(gone);
            if (_current?.ranks.Contains(gone) == true) Break(now);
        }
        if (_current is null) Form(c.MinRanks, c.MaxRanks, now);
        return Assignment(c.Silo);
    }

    public void Report(string silo, long generation, bool finished, DateTime now)
    {
        if (_current?.number != generation) return;
        if (finished) (_current, _finishedAt) = (null, now);
        else Break(now);
    }

    private void Form(int min, int max, DateTime now)
    {
        var alive = _members.Where(m => _brokenAt is not { } broken || m.Value.seen > broken).Select(m => m.Key).Order(StringComparer.Ordinal).ToList();
        var gathered = _brokenAt is { } b ? now - b >= Grace : now - _firstSeen >= Gather;
        if (alive.Count < Math.Max(1, min) || (alive.Count < max && !gathered)) return;
        _current = (++_last, [.. alive.Take(Math.Max(1, max))]);
        _brokenAt = null;
    }

    private void Break(DateTime now) => (_current, _brokenAt) = (null, now);

    private RankAssignment Assignment(string silo)
    {
        if (_current is not { } g) return RankAssignment.Wait;
        var rank = Array.IndexOf(g.ranks, silo);
        if (rank < 0) return RankAssignment.Wait;
        var leader = _members[g.ranks[0]].checkIn;
        return new RankAssignment(g.number, rank, g.ranks.Length, $"{leader.Host}:{leader.StorePort}", false);
    }
}
