using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Imaging.Tests;

public class ImagingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ut-img-").FullName;
    private string P(string name) => Path.Combine(_dir, name);
    public void Dispose() => Directory.Delete(_dir, true);

    private static Tensor Pattern(int h, int w)
    {
        // Distinct smooth-ish values per pixel and channel, so geometry mistakes show.
        var y = arange(h, float32).view(1, h, 1);
        var x = arange(w, float32).view(1, 1, w);
        var c = arange(3, float32).view(3, 1, 1);
        return ((y * 7 + x * 3 + c * 50) % 256) / 255;
    }

    [Fact]
    public void PngRoundTripsExactlyAndJpegAndWebpClosely()
    {
        using var scope = NewDisposeScope();
        var img = Pattern(37, 53);
        Images.Save(img, P("a.png"));
        var back = Images.Load(P("a.png"));
        Assert.Equal(new long[] { 3, 37, 53 }, back.shape);
        Assert.True(back.equal((img * 255 + 0.5).floor() / 255));
        foreach (var ext in new[] { ".jpg", ".webp" })
        {
            var smooth = (arange(64, float32).view(1, 1, 64) / 64).expand(3, 64, 64).contiguous();
            Images.Save(smooth, P("b" + ext), quality: 95);
            var lossy = Images.Load(P("b" + ext));
            var err = (lossy - smooth).abs().mean().item<float>();
            Assert.True(err < 3 / 255f, $"{ext}: mean error {err * 255:F2}/255");
        }
        // Files appear complete or not at all: no temporary left beside them.
        Assert.Equal(new[] { "a.png", "b.jpg", "b.webp" }, Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void APngCarriesItsParametersInATextChunkNamedParameters()
    {
        using var scope = NewDisposeScope();
        var img = Pattern(8, 12);
        const string text = """{"prior":"abc","job":{"seed":7,"note":"ünïcode, quotes \" and newlines\n"}}""";
        Images.Save(img, P("with.png"), parameters: text);
        Images.Save(img, P("without.png"));
        Assert.Equal(text, ImageCodec.Text(P("with.png"), "parameters"));
        Assert.Null(ImageCodec.Text(P("with.png"), "other"));
        Assert.Null(ImageCodec.Text(P("without.png"), "parameters"));
        // The chunk is a PNG tEXt/zTXt/iTXt chunk whose keyword is "parameters", readable by any PNG reader.
        var bytes = File.ReadAllBytes(P("with.png"));
        Assert.Contains("parameters\0", System.Text.Encoding.Latin1.GetString(bytes));
        // The pixels are the same as without it.
        Assert.True(Images.Load(P("with.png")).equal(Images.Load(P("without.png"))));
        Assert.Throws<ImageException>(() => ImageCodec.Text(P("missing.png"), "parameters"));
    }

    [Fact]
    public void GreyIsExpandedAndAlphaDropped()
    {
        using var scope = NewDisposeScope();
        var grey = new byte[] { 10, 20, 30, 40 };
        ImageCodec.Encode(P("grey.png"), grey, 2, 2, 1);
        var g = Images.LoadRgb(P("grey.png"));
        Assert.Equal(new long[] { 3, 2, 2 }, g.shape);
        Assert.Equal(grey.Concat(grey).Concat(grey).ToArray(), g.ToArray<byte>());
        var rgba = new byte[] { 1, 2, 3, 0, 4, 5, 6, 255 };
        ImageCodec.Encode(P("rgba.png"), rgba, 2, 1, 4);
        Assert.Equal(new byte[] { 1, 4, 2, 5, 3, 6 }, Images.LoadRgb(P("rgba.png")).ToArray<byte>());
    }

    [Fact]
    public void ResizeAndCenterCropFollowTheReference()
    {
        using var scope = NewDisposeScope();
        // Shorter side already the size: no resampling, crop left = round((128 - 64) / 2) = 32.
        var wide = Pattern(64, 128);
        var crop = Images.Prepare(wide, 64);
        Assert.True(crop.equal(wide.narrow(2, 32, 64)));
        // Tall 64x31 → width 16, height floor(16 * 64 / 31) = 33, crop top round(17 / 2) = 8 (half to even).
        var tall = Images.Prepare(Pattern(64, 31), 16);
        Assert.Equal(new long[] { 3, 16, 16 }, tall.shape);
        // Antialiased: a shrunk constant image stays constant and the range stays in [0, 1].
        var flat = Images.Prepare(full(new long[] { 3, 100, 300 }, 0.25), 50);
        Assert.True((flat - 0.25).abs().max().item<float>() < 1e-5);
        var e = Assert.Throws<ArgumentException>(() => Images.Prepare(Pattern(40, 80), 64, "small.png"));
        Assert.Contains("smaller than the 64x64 crop", e.Message);
        // Odd files: a clear error naming the file.
        File.WriteAllText(P("bad.png"), "not an image");
        Assert.Contains("bad.png", Assert.Throws<ImageException>(() => Images.LoadRgb(P("bad.png"))).Message);
        Assert.Throws<ImageException>(() => Images.LoadRgb(P("missing.png")));
        Assert.Throws<ArgumentException>(() => Images.Save(Pattern(4, 4), P("x.gifx")));
        Assert.False(File.Exists(P("x.gifx")));
    }

    [Fact]
    public void AnImageFarLargerThanTheCropIsDecodedReducedAndPreparesTheSame()
    {
        using var scope = NewDisposeScope();
        // A smooth 2400 x 1800 image: shorter side 28x the 64 crop.
        var y = linspace(0, 1, 1800).view(1, 1800, 1);
        var x = linspace(0, 1, 2400).view(1, 1, 2400);
        var image = cat([x.expand(1, 1800, 2400), y.expand(1, 1800, 2400), (x * y).expand(1, 1800, 2400)], 0);
        Images.Save(image, P("large.png"));

        // Decoded whole: 2400 x 1800; with shrink-on-load to 128: already 171 x 128.
        Assert.Equal(new long[] { 1800, 2400, 3 }, ImageCodec.Decode(P("large.png")).shape);
        Assert.Equal(new long[] { 128, 171, 3 }, ImageCodec.Decode(P("large.png"), shrinkTo: 128).shape);
        // Not shrunk when under twice the size asked: the reference pipeline's pixels exactly.
        Assert.Equal(new long[] { 1800, 2400, 3 }, ImageCodec.Decode(P("large.png"), shrinkTo: 1000).shape);

        var reduced = Images.LoadPrepared(P("large.png"), 64);
        var whole = Images.Prepare(Images.LoadRgb(P("large.png")), 64);
        Assert.Equal(whole.shape, reduced.shape);
        var diff = (reduced - whole).abs().max().item<float>();
        Assert.True(diff < 0.02f, $"max difference {diff}");
    }

    [Fact]
    public void FolderSplitIsDeterministicAndUnreadableFilesAreSkippedAndReported()
    {
        using var scope = NewDisposeScope();
        Directory.CreateDirectory(P("data/sub"));
        for (var i = 0; i < 20; i++) Images.Save(full(new long[] { 3, 24, 24 }, i / 20.0), P($"data/{(i % 2 == 0 ? "" : "sub/")}img{i:00}.png"));
        File.WriteAllText(P("data/sub/zz_corrupt.jpg"), "garbage");
        File.WriteAllText(P("data/notes.txt"), "not an image");
        var folder = ImageFolder.Open(P("data"));
        Assert.Equal(21, folder.Files.Count);
        var (train, val) = folder.Split(0.05);
        Assert.Equal(20, train.Count);
        Assert.Equal(folder.Files[^1], Assert.Single(val));     // the last 5% in index order
        Assert.Equal(folder.Files, ImageFolder.Open(P("data")).Files);

        var reports = new List<string>();
        float[] Take(ulong seed, int steps)
        {
            using var batches = new ImageBatches(folder.Files, 16, 4, seed, hflip: false, startStep: 0, onSkip: reports.Add);
            var means = new List<float>();
            for (var s = 0; s < steps; s++)
            {
                var (step, images) = batches.Next();
                Assert.Equal(s, step);
                Assert.Equal(new long[] { 4, 3, 16, 16 }, images.shape);
                means.AddRange(images.mean(new long[] { 1, 2, 3 }).ToArray<float>());
                images.Dispose();
            }
            Assert.Single(batches.Skipped);
            return means.ToArray();
        }
        var a = Take(7, 12);  // 48 images: more than two epochs, so the corrupt file is met
        Assert.Equal(a, Take(7, 12));
        Assert.NotEqual(a, Take(8, 12));
        Assert.Contains(reports, r => r.Contains("zz_corrupt.jpg"));
        // A resumed loader starts at the same batch an uninterrupted one had there.
        using (var resumed = new ImageBatches(folder.Files, 16, 4, 7, false, startStep: 5))
        {
            var (step, images) = resumed.Next();
            Assert.Equal(5, step);
            Assert.Equal(a.Skip(20).Take(4), images.mean(new long[] { 1, 2, 3 }).ToArray<float>());
        }
        // Two data-parallel ranks' shares of each global batch, side by side, are the batch one process reads
        // (the corrupt file met in them too).
        using (var first = new ImageBatches(folder.Files, 16, 4, 7, false, startStep: 0, share: (0, 2)))
        using (var second = new ImageBatches(folder.Files, 16, 4, 7, false, startStep: 0, share: (2, 2)))
            for (var s = 0; s < 12; s++)
            {
                using var both = cat([first.Next().images, second.Next().images]);
                Assert.Equal(a.Skip(4 * s).Take(4), both.mean(new long[] { 1, 2, 3 }).ToArray<float>());
            }
        Directory.CreateDirectory(P("empty"));
        Assert.Contains("no image files", Assert.Throws<ArgumentException>(() => ImageFolder.Open(P("empty"))).Message);
    }
}
