using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Grid.Training;

/// <summary>silo.json's <c>Trainer</c> section: the run a trainer silo carries out.</summary>
public sealed record TrainerSettings
{
    /// <summary>prior or vqgan.</summary>
    public string Kind { get; init; } = "prior";
    public PriorTrainingOptions? Prior { get; init; }
    public VqGanTrainingOptions? VqGan { get; init; }
}
