using UnleashingTransformers.Models;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>The job spec's JSON field for each of the models' settings a job sets: how a job's caller
/// (the gateway's clients) is told a <see cref="SettingException"/>: "top-k must be >= 0" from the models is "topK must be >= 0".</summary>
public static class JobFields
{
    private static readonly Dictionary<string, string> Fields = new()
    {
        [SettingNames.Steps] = "steps",
        [SettingNames.Temperature] = "temperature",
        [SettingNames.TopK] = "topK",
        [SettingNames.TopP] = "topP",
        [SettingNames.ChoiceTemperature] = "choiceTemperature",
        [SettingNames.RefineProportion] = "proportion",
        [SettingNames.RefineMinSteps] = "minSteps",
        [SettingNames.Region] = "region",
    };

    /// <summary>What a client is told: a setting error in the spec's field names, any other as it is.</summary>
    public static string Describe(ArgumentException e) =>
        e is SettingException s ? s.Describe(name => Fields.GetValueOrDefault(name, name)) : e.Message;
}
