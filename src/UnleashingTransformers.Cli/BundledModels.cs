namespace UnleashingTransformers.Cli;

/// <summary>
/// The small demo model shipped with the project (models/terrain/, copied next to the program): a
/// VQ-GAN and an absorbing prior trained here on the generated terrain maps, so `ut generate` works on a
/// fresh machine with nothing downloaded. README.md in that folder says how they were made.
/// </summary>
internal static class BundledModels
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "models", "terrain");
    public static string Prior => Path.Combine(Dir, "absorbing_ema.th");
    public static string VqGan => Path.Combine(Dir, "vqgan_ema.th");

    public static string DescribePrior => File.Exists(Prior) ? $"default: the bundled terrain prior" : "required";
    public static string DescribeVqGan => File.Exists(VqGan) ? $"default: the bundled terrain VQ-GAN" : "required";
}
