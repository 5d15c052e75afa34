using System.CommandLine;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut encode</c>, <c>ut decode</c>, <c>ut reconstruct</c>: the VQ-GAN on files.</summary>
internal static class ImageCommands
{
    private static Option<string> VqGan() => new("--vqgan") { Description = "VQ-GAN checkpoint (vqgan_*.th, reference format)", Required = true };
    /// <summary>The reference's crop size, for folders and reconstructions.</summary>
    private const int DefaultCrop = 256;

    private static Option<int> Size() => new("--size") { DefaultValueFactory = _ => DefaultCrop, Description = "crop size in pixels (Resize shorter side + CenterCrop, as the reference)" };

    public static Command Encode()
    {
        var common = new CommonOptions();
        var vqgan = VqGan();
        var size = new Option<int?>("--size")
        {
            Description = $"crop size in pixels (Resize shorter side + CenterCrop, as the reference); default: --in at its own size (sides multiples of the VQ-GAN's tokens), --data at {DefaultCrop}",
        };
        var input = new Option<string?>("--in") { Description = "one image: writes a token file" };
        var data = new Option<string?>("--data") { Description = "an image folder: writes a latent cache (torch.save int64 (N, L))" };
        var output = new Option<string>("--out") { Description = "tokens.json for --in, latents.th for --data", Required = true };
        var hflip = new Option<bool>("--hflip") { Description = "with --data: append a horizontally flipped copy (2N rows), as the reference" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var maxPixels = new Option<long>("--max-pixels")
        {
            DefaultValueFactory = _ => ImageCodec.DefaultMaxPixels, Description = "refuse images of more pixels, read from their header before decoding (0: no limit)",
        };
        var cmd = new Command("encode", "Images to tokens: one image to a token file, or a folder to a latent cache") { vqgan, size, input, data, output, hflip, batch, maxPixels };
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            var (one, folder, outPath) = (r.GetValue(input), r.GetValue(data), r.GetValue(output)!);
            if ((one is null) == (folder is null)) throw new ArgumentException("give exactly one of --in IMAGE and --data DIR");
            var given = r.GetValue(size);
            var s = given ?? DefaultCrop;
            using var coder = TokenDecoder.Open(r.GetValue(vqgan), device)!;
            if (s % coder.Model.Downscale != 0) throw new ArgumentException($"--size {s} is not a multiple of the VQ-GAN's {coder.Model.Downscale}-pixel tokens");
            if (one is not null)
            {
                CommonOptions.RequireFile(one, "--in");
                TokenGrid grid;
                if (given is null) grid = coder.EncodeFile(one, "--in", r.GetValue(maxPixels));
                else
                {
                    using var image = Images.LoadPrepared(one, s, r.GetValue(maxPixels));
                    grid = coder.Encode(image);
                }
                grid.Save(outPath);
                Console.WriteLine($"encode: {one} -> {outPath} ({grid.H}x{grid.W} tokens)");
                return 0;
            }
            EncodeFolder(coder, folder!, s, r.GetValue(batch), r.GetValue(hflip), r.GetValue(maxPixels), outPath, device);
            return 0;
        });
        return cmd;
    }

    private static void EncodeFolder(TokenDecoder coder, string folder, int size, int batch, bool hflip, long maxPixels, string outPath, Device device)
    {
        var files = ImageFolder.Open(folder).Files;
        var rows = new List<long[]>();
        var flipped = new List<long[]>();
        var skipped = new List<string>();
        ConsoleProgress.Run("encode", files.Count, report =>
        {
            for (var i = 0; i < files.Count; i += batch)
            {
                using var scope = NewDisposeScope();
                var images = new List<Tensor>();
                foreach (var f in files.Skip(i).Take(batch))
                {
                    try { images.Add(Images.LoadPrepared(f, size, maxPixels)); }
                    catch (Exception e) when (e is ImageException or TorchException or ArgumentException) { skipped.Add(e.Message); Console.Error.WriteLine($"encode: skipped {e.Message}"); }
                }
                if (images.Count > 0)
                {
                    var x = stack(images).to(device);
                    var ids = coder.Model.encode(x).cpu();
                    var n = (int)ids.size(1);
                    rows.AddRange(Enumerable.Range(0, images.Count).Select(k => ids[k].ToArray<long>()));
                    if (hflip)
                    {
                        var fids = coder.Model.encode(x.flip(3)).cpu();
                        flipped.AddRange(Enumerable.Range(0, images.Count).Select(k => fids[k].ToArray<long>()));
                    }
                }
                report(Math.Min(files.Count, i + batch), $"{rows.Count} encoded, {skipped.Count} skipped");
            }
        });
        if (rows.Count == 0) throw new ArgumentException($"{folder}: no readable images");
        var all = rows.Concat(flipped).ToList();
        var L = all[0].Length;
        using var latents = from_array<long>(all.SelectMany(r => r).ToArray(), all.Count, L);
        save(latents, outPath);
        var codes = all.SelectMany(r => r).Distinct().Count();
        Console.WriteLine($"encode: {rows.Count} image(s){(hflip ? " + flipped copies" : "")} -> {outPath} ({all.Count} x {L} tokens, {codes} distinct codes of {coder.CodebookSize}); " +
            $"{skipped.Count} unreadable file(s) skipped");
    }

    public static Command Decode()
    {
        var common = new CommonOptions();
        var vqgan = VqGan();
        var tokens = new Option<string>("--tokens") { Description = "token file {\"shape\":[H,W],\"tokens\":[...]} (any H x W)", Required = true };
        var output = new Option<string>("--out") { Description = "image file: .png, .tif (tiled, pyramidal), .dzi (DeepZoom pyramid), .jpg, .webp", Required = true };
        var force = new Option<bool>("--force") { Description = "decode even when the image needs more memory than the machine has available" };
        var cmd = new Command("decode", "Token grid to image") { vqgan, tokens, output, force };
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            using var coder = TokenDecoder.Open(r.GetValue(vqgan), device)!;
            var grid = TokenGrid.Load(r.GetValue(tokens)!, (int)coder.CodebookSize);
            CanvasRun.CheckImagePath(r.GetValue(output)!);
            var need = Models.VqGan.CanvasDecoder.PeakBytes(grid.H, grid.W, coder.Model.Downscale);
            if (need > MachineMemory.AvailableBytes() && !r.GetValue(force))
                throw new ArgumentException($"--tokens: its {grid.H}x{grid.W} tokens need about {MachineMemory.Describe(need)} to decode, " +
                    $"{MachineMemory.Describe(MachineMemory.AvailableBytes())} is available: decode a smaller grid (or --force)");
            coder.Save(grid, r.GetValue(output)!, Made.Json(("vqgan", coder.Version), ("tokens", Grid.Replicas.ModelVersion.OfFile(r.GetValue(tokens)!))));
            Console.WriteLine($"decode: {grid.H}x{grid.W} tokens -> {r.GetValue(output)} ({grid.W * coder.Model.Downscale}x{grid.H * coder.Model.Downscale} px)");
            return 0;
        });
        return cmd;
    }

    public static Command Reconstruct()
    {
        var common = new CommonOptions();
        var vqgan = VqGan();
        var size = Size();
        var input = new Option<string>("--in") { Required = true };
        var output = new Option<string>("--out") { Required = true };
        var cmd = new Command("reconstruct", "Image through the VQ-GAN (encode, decode); prints the L1 error") { vqgan, size, input, output };
        common.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var device = common.Apply(r);
            CommonOptions.RequireFile(r.GetValue(input), "--in");
            using var coder = TokenDecoder.Open(r.GetValue(vqgan), device)!;
            using var scope = NewDisposeScope();
            var s0 = r.GetValue(size);
            var image = Images.LoadPrepared(r.GetValue(input)!, s0).to(device);
            var grid = coder.Encode(image);
            var decoded = coder.Model.decode(from_array<long>(grid.Tokens, 1, grid.H, grid.W).to(device))[0];
            Images.Save(decoded, r.GetValue(output)!, parameters: Made.Json(("vqgan", coder.Version), ("reconstructed", Grid.Replicas.ModelVersion.OfFile(r.GetValue(input)!)), ("size", s0)));
            var l1 = (decoded.clamp(0, 1) - image).abs().mean().item<double>();
            Console.WriteLine($"reconstruct: {r.GetValue(input)} -> {r.GetValue(output)}, L1 {l1:F4}");
            return 0;
        });
        return cmd;
    }
}
