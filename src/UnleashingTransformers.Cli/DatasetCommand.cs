using System.CommandLine;
using UnleashingTransformers.Imaging;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut dataset terrain</c>: writes the offline demo dataset.</summary>
internal static class DatasetCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "directory for the PNGs", Required = true };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 2000 };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 64, Description = "image side in pixels" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL, Description = "the world: same seed, same images" };
        var terrain = new Command("terrain", "Top-down terrain maps: crops of one procedural world (water, beaches, grass, forest, rock, snow)") { outDir, count, size, seed };
        terrain.SetAction(r =>
        {
            var (n, s) = (r.GetValue(count), r.GetValue(size));
            if (n < 1 || s < 8) throw new ArgumentException("--count must be >= 1 and --size >= 8");
            var dir = r.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            ConsoleProgress.Run("dataset", n, report =>
            {
                Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
                {
                    using var image = TerrainMaps.Render(r.GetValue(seed), i, s);
                    Images.Save(image, Path.Combine(dir, $"terrain_{i:00000}.png"), parameters: Made.Json(("terrain", new { seed = r.GetValue(seed), index = i, size = s })));
                });
                report(n, "");
            });
            Console.WriteLine($"dataset: {n} terrain maps of {s}x{s} px -> {dir}");
            return 0;
        });
        return new Command("dataset", "Write a demo dataset (generated here; nothing is downloaded)") { terrain };
    }
}
