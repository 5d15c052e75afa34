using UnleashingTransformers.Models;

namespace UnleashingTransformers.Cli;

/// <summary>The flag a user gives each of the models' settings with: how a <see cref="SettingException"/> is told on the
/// command line ("kernel 4: an odd number" from the models is "--kernel 4: an odd number" here).</summary>
internal static class CliFlags
{
    private static readonly Dictionary<string, string> Flags = new()
    {
        [SettingNames.Steps] = "--steps",
        [SettingNames.Temperature] = "--temp",
        [SettingNames.TopK] = "--top-k",
        [SettingNames.TopP] = "--top-p",
        [SettingNames.ChoiceTemperature] = "--choice-temp",
        [SettingNames.CorrectorSteps] = "--corrector-steps",
        [SettingNames.RefineProportion] = "--proportion",
        [SettingNames.RefineMinSteps] = "--min-steps",
        [SettingNames.Region] = "--region",
        [SettingNames.Grid] = "--grid",
        [SettingNames.Batch] = "--batch",
        [SettingNames.CheckpointEvery] = "--checkpoint-every",
        [SettingNames.LearningRate] = "--lr",
        [SettingNames.Warmup] = "--warmup",
        [SettingNames.ValidationFraction] = "--val-fraction",
        [SettingNames.Unroll] = "--unroll",
        [SettingNames.Crop] = "--crop",
        [SettingNames.DiscriminatorLayers] = "--disc-layers",
        [SettingNames.Resume] = "--resume",
        [SettingNames.Output] = "--out",
        [SettingNames.TimeSampling] = "--time-sampling",
        [SettingNames.StartFrom] = "--init",
        [SettingNames.DecoderOnly] = "--decoder-only",
        [SettingNames.Rank] = "--rank",
        [SettingNames.World] = "--world",
        [SettingNames.Store] = "--store",
        [SettingNames.StoreTimeout] = "--store-timeout",
        [SettingNames.Backbone] = "--model",
        [SettingNames.Layers] = "--layers",
        [SettingNames.Width] = "--emb",
        [SettingNames.Heads] = "--heads",
        [SettingNames.Precision] = "--precision",
        [SettingNames.Patch] = "--patch",
        [SettingNames.Kernel] = "--kernel",
        [SettingNames.Dilations] = "--dilations",
        [SettingNames.Positions] = "--positions",
        [SettingNames.Layout] = "--layout",
        [SettingNames.Depth] = "an hourglass depth (--layers pre-valley-post)",
        [SettingNames.Shorten] = "--shorten",
        [SettingNames.WindowBatch] = "--batch",
        [SettingNames.Init] = "--init",
    };

    /// <summary>The flag of <paramref name="setting"/>; a name that is no setting (a flag already) as it is.</summary>
    public static string For(string setting) => Flags.GetValueOrDefault(setting, setting);

    /// <summary>The settings without a flag here (none, or a new setting was added without one).</summary>
    public static IEnumerable<string> Missing() => SettingNames.All.Where(s => !Flags.ContainsKey(s));

    /// <summary>Every flag named here.</summary>
    public static IEnumerable<string> All => Flags.Values;
}
