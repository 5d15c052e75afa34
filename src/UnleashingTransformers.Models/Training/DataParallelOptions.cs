namespace UnleashingTransformers.Models.Training;

/// <summary>
/// Where a training process stands in a data-parallel run (docs/training.md): rank <see cref="Rank"/> of
/// <see cref="World"/>, the ranks meeting at the TCP store rank 0 serves at <see cref="Store"/>. The CLI's
/// <c>--rank/--world/--store/--store-timeout</c> and silo.json's <c>Trainer:Prior:Parallel</c> bind this record.
/// </summary>
public sealed record DataParallelOptions
{
    /// <summary>This process's rank, 0 to World - 1: rank 0 serves the store and alone writes checkpoints and the log.</summary>
    public int Rank { get; init; }
    /// <summary>The ranks of the run; 1 is one process, no group.</summary>
    public int World { get; init; } = 1;
    /// <summary>HOST:PORT of rank 0's TCP store (rank 0 listens on PORT).</summary>
    public string Store { get; init; } = "";
    /// <summary>How long a rank waits for the others: to meet at the store, and at each step's all-reduce (rank 0
    /// writing a checkpoint or a validation pass keeps the others waiting that long).</summary>
    public int TimeoutSeconds { get; init; } = 300;

    /// <summary>The store's host and port; one line naming the setting when any is wrong.</summary>
    public (string host, int port) Checked()
    {
        SettingException.Require(World >= 1, SettingNames.World, "must be >= 1");
        SettingException.Require(Rank >= 0 && Rank < World, SettingNames.Rank, $"must lie in 0..{World - 1} for a world of {World}");
        SettingException.Require(TimeoutSeconds >= 1, SettingNames.StoreTimeout, "must be >= 1");
        if (World == 1) return ("", 0);
        var colon = Store.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(Store[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new SettingException(SettingNames.Store, $"'{Store}' is not HOST:PORT (rank 0's address and a free port, e.g. 127.0.0.1:29500)");
        return (Store[..colon].Trim('[', ']'), port);
    }
}
