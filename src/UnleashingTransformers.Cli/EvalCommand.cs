using System.CommandLine;
using System.Globalization;
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
        var terrain = new Option<bool>("--terrain")
        {
            Description = "terrain maps: also compare the palette's bands, beaches, water bodies and land masses, and the 8-px period (whole images; sets of one image size)",
        };
        var prior = new Option<string?>("--prior") { Description = "absorbing prior (absorbing_*.th): with --latents, its ELBO" };
        var latents = new Option<string?>("--latents") { Description = "held-out latent cache (torch.save int64 (N, L), `ut encode --data`)" };
        var heads = CommonOptions.PriorHeads();
        var json = new Option<string?>("--json") { Description = "also write the JSON object to this file" };
        var features = new Option<string?>("--features")
        {
            Description = "feature network, a TorchScript file (e.g. inception-2015-12-05.pt): FID, KID, precision/recall/density/coverage in its " +
            "feature space"
        };
        var featuresSize = new Option<int>("--features-size")
        {
            DefaultValueFactory = _ => new FeatureInput().Size,
            Description = "images are resized to this many px a side for the network (0: as they are)"
        };
        var featuresRange = new Option<string>("--features-range")
        {
            DefaultValueFactory = _ => $"{new FeatureInput().Low},{new FeatureInput().High}",
            Description = "LOW,HIGH: the values black and white are given to the network as"
        };
        var featuresArgs = new Option<string[]>("--features-arg") { Description = "NAME=VALUE: a named argument of the network's forward (bool, int or float), repeatable; e.g. return_features=true" };
        var featuresBatch = new Option<int>("--features-batch") { DefaultValueFactory = _ => new FeatureInput().Batch, Description = "images per forward pass of the feature network" };
        var saveFeatures = new Option<string?>("--save-features") { Description = "folder: write the features as real.npy and fake.npy (float64, N x D)" };
        var kidSubsets = new Option<int>("--kid-subsets") { DefaultValueFactory = _ => KernelDistance.DefaultSubsets, Description = "KID: random subsets averaged" };
        var kidSubsetSize = new Option<int>("--kid-subset-size") { DefaultValueFactory = _ => KernelDistance.DefaultSubsetSize, Description = "KID: rows per subset, at most" };
        var prdcK = new Option<int>("--prdc-k") { DefaultValueFactory = _ => PrecisionRecall.DefaultK, Description = "precision/recall/density/coverage: the k of the nearest-neighbour balls" };
        var cmd = new Command("eval", "Compare generated images with real ones (SWD; FID, KID, precision/recall with a feature network; nearest neighbours); a prior's ELBO on held-out latents")
        {
            real, fake, crop, count, seed, neighbours, k, shown, terrain, prior, latents, heads, json,
            features, featuresSize, featuresRange, featuresArgs, featuresBatch, saveFeatures, kidSubsets, kidSubsetSize, prdcK,
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
            if (r.GetValue(features) is not null && realDir is null) throw new ArgumentException("--features needs --real DIR and --fake DIR");
            if (r.GetValue(saveFeatures) is not null && r.GetValue(features) is null) throw new ArgumentException("--save-features needs --features FILE");
            if (priorPath is not null) CommonOptions.RequireFile(priorPath, "--prior");
            if (latentsPath is not null) CommonOptions.RequireFile(latentsPath, "--latents");

            var evalFeatures = r.GetValue(features) is { } networkPath
                ? new EvalFeatures(networkPath, ParseFeatureInput(r.GetValue(featuresSize), r.GetValue(featuresRange)!, r.GetValue(featuresArgs) ?? [], r.GetValue(featuresBatch)),
                    r.GetValue(kidSubsets), r.GetValue(kidSubsetSize), r.GetValue(prdcK), r.GetValue(saveFeatures))
                : null;
            evalFeatures?.Check();

            using var scope = NewDisposeScope();
            var result = new JsonObject();
            // The ELBO first: a latent cache that fails its checks then leaves no --neighbours picture behind.
            if (priorPath is not null)
                result["elbo"] = Elbo(priorPath, latentsPath!, r.GetValue(heads), device, r.GetValue(count), r.GetValue(seed));
            if (realDir is not null && r.GetValue(terrain)) result["terrain"] = CompareMaps(realDir, fakeDir!);
            if (realDir is not null)
                result["images"] = CompareImages(realDir, fakeDir!, r.GetValue(crop), r.GetValue(count), r.GetValue(seed), r.GetValue(neighbours), r.GetValue(k), r.GetValue(shown), evalFeatures,
                    device);
            var text = result.ToJsonString();
            if (r.GetValue(json) is { } path) AtomicFile.WriteAllText(path, text + "\n");
            Console.WriteLine(text);
            return 0;
        });
        return cmd;
    }

    private static FeatureInput ParseFeatureInput(int size, string range, string[] args, int batch)
    {
        var bounds = range.Split(',');
        if (bounds.Length != 2 || !double.TryParse(bounds[0], CultureInfo.InvariantCulture, out var low) || !double.TryParse(bounds[1], CultureInfo.InvariantCulture, out var high) || low == high)
            throw new ArgumentException($"--features-range {range}: expected LOW,HIGH, two different numbers (e.g. 0,255 or -1,1)");
        var named = new Dictionary<string, object>();
        foreach (var arg in args)
        {
            var eq = arg.IndexOf('=');
            if (eq < 1) throw new ArgumentException($"--features-arg {arg}: expected NAME=VALUE");
            var value = arg[(eq + 1)..];
            named[arg[..eq]] = value switch
            {
                "true" or "True" => true,
                "false" or "False" => false,
                _ when long.TryParse(value, CultureInfo.InvariantCulture, out var l) => l,
                _ when double.TryParse(value, CultureInfo.InvariantCulture, out var d) => d,
                _ => throw new ArgumentException($"--features-arg {arg}: the value must be true, false, an int or a float"),
            };
        }
        if (size < 0 || batch < 1) throw new ArgumentException("--features-size must be 0 or more and --features-batch at least 1");
        return new FeatureInput(size, low, high, named, batch);
    }

    private static JsonObject CompareMaps(string realDir, string fakeDir)
    {
        using var scope = NewDisposeScope();
        static MapStatistics Of(string dir) => MapStatistics.Of(ImageFolder.Open(dir).Files.Select(f => Images.LoadRgb(f)));
        var (real, fake) = (Of(realDir), Of(fakeDir));
        static string Percent(double v) => $"{100 * v:F1} %";
        Console.WriteLine($"eval: terrain maps, {fake.Images} generated ({fake.Pixels / 1e6:F2} Mpx) and {real.Images} real ({real.Pixels / 1e6:F2} Mpx)");
        Console.WriteLine("| terrain | real | generated |");
        Console.WriteLine("|---|---|---|");
        foreach (var c in Enum.GetValues<TerrainClass>())
            Console.WriteLine($"| {c.ToString().ToLowerInvariant()} | {Percent(real.ClassShares[(int)c])} | {Percent(fake.ClassShares[(int)c])} |");
        var classes = MapStatistics.TotalVariation(real.ClassShares, fake.ClassShares);
        var (water, land) = (MapStatistics.TotalVariation(real.WaterSizes, fake.WaterSizes), MapStatistics.TotalVariation(real.LandSizes, fake.LandSizes));
        Console.WriteLine($"| bands' distance (total variation) | | {classes:F3} |");
        Console.WriteLine($"| sand among the land next to water | {Percent(real.SandyShore)} | {Percent(fake.SandyShore)} |");
        Console.WriteLine($"| water bodies / land masses a Mpx | {real.WaterBodiesPerMpx:F0} / {real.LandMassesPerMpx:F0} | {fake.WaterBodiesPerMpx:F0} / {fake.LandMassesPerMpx:F0} |");
        Console.WriteLine($"| sizes' distance, water / land (total variation, area-weighted log2 bins) | | {water:F3} / {land:F3} |");
        Console.WriteLine($"| power at the {MapStatistics.Period}-px period over its neighbours | {real.PeriodPeak:F2} | {fake.PeriodPeak:F2} |");
        static JsonObject Json(MapStatistics m) => new()
        {
            ["images"] = m.Images,
            ["pixels"] = m.Pixels,
            ["classes"] = new JsonObject(Enum.GetValues<TerrainClass>().Select(c => KeyValuePair.Create(c.ToString().ToLowerInvariant(), (JsonNode?)m.ClassShares[(int)c]))),
            ["sandyShore"] = m.SandyShore,
            ["waterBodiesPerMpx"] = m.WaterBodiesPerMpx,
            ["landMassesPerMpx"] = m.LandMassesPerMpx,
            ["periodPeak"] = m.PeriodPeak,
        };
        return new JsonObject
        {
            ["real"] = Json(real),
            ["generated"] = Json(fake),
            ["classDistance"] = classes,
            ["waterSizeDistance"] = water,
            ["landSizeDistance"] = land,
        };
    }

    private static JsonObject CompareImages(string realDir, string fakeDir, int crop, int count, ulong seed, string? picture, int k, int shown, EvalFeatures? evalFeatures, Device device)
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
        if (evalFeatures is not null) images["features"] = evalFeatures.Compare(realCrops, fakeCrops, seed, device);
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
        double nats = 0;
        for (var start = 0; start < rows; start += 16)
        {
            using var batch = NewDisposeScope();
            var x0 = ids.narrow(0, start, Math.Min(16, rows - start)).to(device);
            using var noise = RowNoise.Seeded(seed, x0.size(0), start);   // each row's noise its own: the estimate does not depend on the batching
            nats += model.elbo(x0, noise).sum().item<double>();
        }
        var bits = nats / rows / tokens / Math.Log(2);
        Console.WriteLine($"| ELBO of {Path.GetFileName(priorPath)} on {rows} rows of {Path.GetFileName(latentsPath)} | {bits:F4} bits per token |");
        return new JsonObject { ["prior"] = priorPath, ["latents"] = latentsPath, ["rows"] = rows, ["tokens"] = tokens, ["bitsPerToken"] = bits };
    }
}
