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
}
