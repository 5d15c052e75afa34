using System.CommandLine;
using System.Text.Json.Nodes;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Evaluation;
using UnleashingTransformers.Models.Training;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary>
/// <c>ut eval</c>: how close generated images are to real ones, and how likely a prior finds held-out latents.
/// Image sets are folders cut into crops (<see cref="ImageCrops"/>); the sliced Wasserstein distance needs no
/// network (<see cref="SlicedWasserstein"/>); nearest neighbours show copies; the ELBO is the paper's
/// likelihood in bits per token. Prints a short table, then one JSON object (also written to --json).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var real = new Option<string?>("--real") { Description = "folder of real (training or held-out) images" };
        var fake = new Option<string?>("--fake") { Description = "folder of generated images" };
        var crop = new Option<int>("--crop") { DefaultValueFactory = _ => 64, Description = "images are cut into crops of this many px a side" };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 256, Description = "crops (or latent rows) used from each set, at most" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0, Description = "the SWD's random patches and directions, the ELBO's masks" };
        var neighbours = new Option<string?>("--neighbours") { Description = "PNG: the first generated crops, each beside its nearest real crops" };
        var k = new Option<int>("--k") { DefaultValueFactory = _ => 4, Description = "nearest real crops shown and listed per generated crop" };
        var shown = new Option<int>("--shown") { DefaultValueFactory = _ => 8, Description = "generated crops in the --neighbours picture" };
        var prior = new Option<string?>("--prior") { Description = "absorbing prior (absorbing_*.th): with --latents, its ELBO" };
        var latents = new Option<string?>("--latents") { Description = "held-out latent cache (torch.save int64 (N, L), `ut encode --data`)" };
        var heads = CommonOptions.PriorHeads();
        var json = new Option<string?>("--json") { Description = "also write the JSON object to this file" };
        var cmd = new Command("eval", "Compare generated images with real ones (SWD, nearest neighbours); a prior's ELBO on held-out latents")
        {
            real, fake, crop, count, seed, neighbours, k, shown, prior, latents, heads, json,
        };
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            var (realDir, fakeDir, priorPath, latentsPath) = (r.GetValue(real), r.GetValue(fake), r.GetValue(prior), r.GetValue(latents));
            if ((realDir is null) != (fakeDir is null)) throw new ArgumentException("give both --real DIR and --fake DIR to compare images");
            if ((priorPath is null) != (latentsPath is null)) throw new ArgumentException("give both --prior FILE and --latents FILE for the ELBO");
            if (realDir is null && priorPath is null) throw new ArgumentException("nothing to evaluate: give --real and --fake, or --prior and --latents");
            if (r.GetValue(neighbours) is { } n && (realDir is null || !n.EndsWith(".png", StringComparison.OrdinalIgnoreCase)))
                throw new ArgumentException($"--neighbours {n}: a .png, with --real and --fake");
            if (r.GetValue(k) < 1 || r.GetValue(shown) < 1) throw new ArgumentException("--k and --shown must be at least 1");
            if (priorPath is not null) CommonOptions.RequireFile(priorPath, "--prior");
            if (latentsPath is not null) CommonOptions.RequireFile(latentsPath, "--latents");

            using var scope = NewDisposeScope();
            var result = new JsonObject();
            // The ELBO first: a latent cache that fails its checks then leaves no --neighbours picture behind.
            if (priorPath is not null)
                result["elbo"] = Elbo(priorPath, latentsPath!, r.GetValue(heads), device, r.GetValue(count), r.GetValue(seed));
            if (realDir is not null)
                result["images"] = CompareImages(realDir, fakeDir!, r.GetValue(crop), r.GetValue(count), r.GetValue(seed), r.GetValue(neighbours), r.GetValue(k), r.GetValue(shown));
            var text = result.ToJsonString();
            if (r.GetValue(json) is { } path) AtomicFile.WriteAllText(path, text + "\n");
            Console.WriteLine(text);
            return 0;
        });
        return cmd;
    }

    private static JsonObject CompareImages(string realDir, string fakeDir, int crop, int count, ulong seed, string? picture, int k, int shown)
    {
        var (realCrops, realSources) = ImageCrops.FromFolder(realDir, crop, count);
        var (fakeCrops, fakeSources) = ImageCrops.FromFolder(fakeDir, crop, count);
        // The SWD compares sets of one size: as many crops of each.
        var n = Math.Min(realCrops.size(0), fakeCrops.size(0));
        var levels = SlicedWasserstein.Distance(fakeCrops.narrow(0, 0, n), realCrops.narrow(0, 0, n), seed);
        Console.WriteLine($"eval: {n} crops of {crop} px from each of {fakeDir} (generated) and {realDir} (real)");
        Console.WriteLine("| SWD x1e3 | " + string.Join(" | ", levels.Select((_, i) => $"{crop >> i} px")) + " | mean |");
        Console.WriteLine("|---|" + string.Concat(levels.Select(_ => "---|")) + "---|");
        Console.WriteLine("| generated vs real | " + string.Join(" | ", levels.Select(l => l.ToString("F1"))) + $" | {levels.Average():F1} |");

        var (indices, distances) = NearestNeighbours.Find(fakeCrops, realCrops, k);
        var nearest = indices.Select(row => row[0]).ToArray();
        var closest = distances.Select(d => d[0]).ToArray();
        Console.WriteLine($"| nearest real crop, RMS distance (0..1) | min {closest.Min():F4} | median {closest.Order().ElementAt(closest.Length / 2):F4} |");
        var images = new JsonObject
        {
            ["crop"] = crop,
            ["crops"] = n,
            ["swd"] = new JsonObject { ["levels"] = new JsonArray(levels.Select(l => (JsonNode)l).ToArray()), ["mean"] = levels.Average() },
            ["nearest"] = new JsonArray(Enumerable.Range(0, indices.Length).Select(i => (JsonNode)new JsonObject
            {
                ["generated"] = fakeSources[i],
                ["real"] = new JsonArray(indices[i].Select(j => (JsonNode)new JsonObject { ["crop"] = j, ["file"] = realSources[(int)j] }).ToArray()),
                ["distance"] = new JsonArray(distances[i].Select(d => (JsonNode)d).ToArray()),
            }).ToArray()),
        };
        if (picture is not null)
        {
            var m = Math.Min(shown, indices.Length);
            using var rows = NearestNeighbours.Rows(fakeCrops.narrow(0, 0, m), realCrops, indices.Take(m).ToArray());
            Images.Save(Images.Grid(rows, perRow: indices[0].Length + 1), picture);
            images["picture"] = picture;
        }
        return images;
    }

    private static JsonObject Elbo(string priorPath, string latentsPath, int? heads, Device device, int count, ulong seed)
    {
        using var model = PriorCheckpoint.Load(priorPath, heads, device);
        model.eval();
        var config = model.Config;
        var (ids, tokens, _) = PriorTrainer.CheckLatents(load_tensor(latentsPath), latentsPath, config.BlockSize, config.CodebookSize);
        var rows = (int)Math.Min(count, ids.size(0));
        using var g = new Generator(seed);
        double nats = 0;
        for (var start = 0; start < rows; start += 16)
        {
            using var batch = NewDisposeScope();
            var x0 = ids.narrow(0, start, Math.Min(16, rows - start)).to(device);
            nats += model.elbo(x0, g).sum().item<double>();
        }
        var bits = nats / rows / tokens / Math.Log(2);
        Console.WriteLine($"| ELBO of {Path.GetFileName(priorPath)} on {rows} rows of {Path.GetFileName(latentsPath)} | {bits:F4} bits per token |");
        return new JsonObject { ["prior"] = priorPath, ["latents"] = latentsPath, ["rows"] = rows, ["tokens"] = tokens, ["bitsPerToken"] = bits };
    }
}
