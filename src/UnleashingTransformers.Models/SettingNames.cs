namespace UnleashingTransformers.Models;

/// <summary>
/// The settings of sampling, training and the backbones as the models call them in their messages
/// (<see cref="SettingException"/>); the CLI's flag for each is in its <c>CliFlags</c>.
/// </summary>
public static class SettingNames
{
    // sampling
    public const string Steps = "steps", Temperature = "temperature", TopK = "top-k", TopP = "top-p",
        ChoiceTemperature = "choice temperature", CorrectorSteps = "corrector steps",
        RefineProportion = "refine proportion", RefineMinSteps = "refine minimum steps", Region = "region", Grid = "grid";

    // training
    public const string Batch = "batch", CheckpointEvery = "checkpoint interval", LearningRate = "learning rate",
        Warmup = "warmup", ValidationFraction = "validation fraction", Unroll = "unroll", Crop = "crop",
        DiscriminatorLayers = "discriminator layers", Resume = "resume", Output = "output folder", TimeSampling = "time sampling",
        StartFrom = "starting weights", DecoderOnly = "decoder only";

    // data-parallel training
    public const string Rank = "rank", World = "world", Store = "store", StoreTimeout = "store timeout";

    // the network
    public const string Backbone = "backbone", Layers = "layers", Width = "width", Heads = "heads", Precision = "precision",
        Patch = "patch", Kernel = "kernel", Dilations = "dilations", Positions = "positions", Layout = "layout",
        Depth = "hourglass depth", Shorten = "shorten";

    // the grid
    public const string WindowBatch = "window batch", Init = "init image";

    /// <summary>Every name above (for tables that must cover them all).</summary>
    public static IReadOnlyList<string> All { get; } = typeof(SettingNames).GetFields()
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
}
