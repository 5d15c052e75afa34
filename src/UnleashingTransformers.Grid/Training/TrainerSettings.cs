using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Grid.Training;

/// <summary>silo.json's <c>Trainer</c> section: the run a trainer silo carries out.</summary>
public sealed record TrainerSettings
{
    /// <summary>prior or vqgan.</summary>
    public string Kind { get; init; } = "prior";
    public PriorTrainingOptions? Prior { get; init; }
    public VqGanTrainingOptions? VqGan { get; init; }
    /// <summary>A prior run publishes each checkpoint as this model (a new version of a model the silos list, or a
    /// new model); empty: its checkpoints are not served.</summary>
    public string PublishAs { get; init; } = "";
    /// <summary>The VQ-GAN of the published model (a new model needs one; empty: that of the silos' model of its name).</summary>
    public string PublishVqGan { get; init; } = "";
    /// <summary>Data parallelism across trainer silos: the run they share (<see cref="Contracts.ITrainingRunGrain"/>'s key).
    /// Every silo of a run is configured alike and reads and writes the same folders (a shared volume).</summary>
    public string Run { get; init; } = "default";
    /// <summary>The fewest silos the run trains on; it waits for them, and after a lost rank goes on with as many.</summary>
    public int MinRanks { get; init; } = 1;
    /// <summary>The most silos the run trains on; 1, the default: this silo trains alone, no roster.</summary>
    public int MaxRanks { get; init; } = 1;
    /// <summary>Where this silo's TCP store listens when it is rank 0 (the other ranks reach it at the silo's address).</summary>
    public int StorePort { get; init; } = 29500;
}
