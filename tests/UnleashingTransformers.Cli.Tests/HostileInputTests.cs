using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli.Tests;

/// <summary>Input meant to hurt: each is refused with one line, quickly, and leaves no output behind.</summary>
public class HostileInputTests : TempDirTest
{
    private static readonly string VqGan = Path.Combine(AppContext.BaseDirectory, "models", "terrain", "vqgan_ema.th");

    [Fact]
    public void ACanvasWhoseImageCannotFitInMemoryIsRefusedBeforeAnyWork()
    {
        var sw = Stopwatch.StartNew();
        var error = Ut.Fails("generate", "--shape", "100000x100000", "--out", P("huge.png"));
        Assert.Contains("--shape 100000x100000", error);
        Assert.Contains("is available", error);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        Assert.False(File.Exists(P("huge.png")));
    }

    [Fact]
    public void GenerateSaysWhatItIsAboutToDoBeforeItDoesIt()
    {
        var stdout = Ut.Ok("generate", "--shape", "16x32", "--steps", "8", "--out", P("small.png"));
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var plan = Array.FindIndex(lines, l => l.Contains("window passes over 8 steps"));
        var done = Array.FindIndex(lines, l => l.Contains("tokens/s"));
        Assert.True(plan >= 0 && plan < done, stdout);
    }

    [Fact]
    public void ABadDecodeTileIsRefusedBeforeSampling()
    {
        var sw = Stopwatch.StartNew();
        Assert.Contains("--decode-tile -1", Ut.Fails("generate", "--shape", "32x64", "--decode-tile", "-1", "--out", P("x.png")));
        // Sampling this canvas takes several seconds on two cores; the refusal comes before any of it.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
        Assert.False(File.Exists(P("x.png")));
    }

    [Theory]
    [InlineData("[1, 2, 3]")]
    [InlineData("\"tokens\"")]
    [InlineData("42")]
    public void ATokenFileThatIsNotAnObjectIsOneLine(string json)
    {
        File.WriteAllText(P("t.json"), json);
        Assert.Contains("expected {\"shape\":[H,W],\"tokens\":[...]}", Ut.Fails("decode", "--vqgan", VqGan, "--tokens", P("t.json"), "--out", P("x.png")));
        Assert.False(File.Exists(P("x.png")));
    }

    [Fact]
    public void ATruncatedImageIsAnErrorReportedOnceAndNeverEncoded()
    {
        using (var scope = NewDisposeScope())
        {
            using var generator = new UnleashingTransformers.Torch.Generator(3);
            var noise = rand([3, 128, 128], generator);
            Images.Save(noise, P("whole.png"));
        }
        var bytes = File.ReadAllBytes(P("whole.png"));
        File.WriteAllBytes(P("cut.png"), bytes[..(bytes.Length / 2)]);
        var (code, _, stderr) = Ut.Run("encode", "--vqgan", VqGan, "--in", P("cut.png"), "--size", "64", "--out", P("cut.json"));
        Assert.Equal(1, code);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // no libvips warning per row
        Assert.Contains("cut.png: cannot read image", stderr);
        Assert.False(File.Exists(P("cut.json")));

        // In a folder: skipped, said once, and not counted as encoded.
        Directory.CreateDirectory(P("data"));
        File.Copy(P("whole.png"), P("data/a.png"));
        File.Copy(P("cut.png"), P("data/b.png"));
        var run = Ut.Run("encode", "--vqgan", VqGan, "--data", P("data"), "--size", "64", "--out", P("latents.th"));
        Assert.Equal(0, run.code);
        Assert.Single(run.stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("b.png"));
        Assert.DoesNotContain("VIPS-WARNING", run.stderr);
        Assert.Contains("1 encoded, 1 skipped", run.stdout);
    }

    [Fact]
    public void AnImageOverThePixelLimitIsRefusedFromItsHeader()
    {
        // 20000 x 20000 RGB in a ~1.2 MB file: decoded whole it would be 1.2 GB of bytes, 4.8 GB of floats.
        WriteBlankPng(P("bomb.png"), 20000, 20000);
        Assert.True(new FileInfo(P("bomb.png")).Length < 2_000_000);
        var sw = Stopwatch.StartNew();
        Assert.Contains("20000x20000 pixels is over the limit of 100000000", Ut.Fails("encode", "--vqgan", VqGan, "--in", P("bomb.png"), "--size", "64", "--out", P("b.json")));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"took {sw.Elapsed}");

        // The limit is what refuses: a 3000 x 3000 image passes by default and is refused under a lower one.
        WriteBlankPng(P("big.png"), 3000, 3000);
        Ut.Ok("encode", "--vqgan", VqGan, "--in", P("big.png"), "--size", "64", "--out", P("big.json"));
        Assert.Contains("over the limit of 1000000", Ut.Fails("encode", "--vqgan", VqGan, "--in", P("big.png"), "--size", "64", "--out", P("big2.json"), "--max-pixels", "1000000"));
        Assert.False(File.Exists(P("big2.json")));
    }

    [Fact]
    public void BFloat16OnACPUWithoutBfloat16InstructionsIsWarnedAbout()
    {
        Assert.True(Bf16Support.FromCpuInfo("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_fp16\n"));
        Assert.True(Bf16Support.FromCpuInfo("flags\t\t: fpu amx_tile amx_bf16 amx_int8\n"));
        Assert.False(Bf16Support.FromCpuInfo("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"));
        Assert.False(Bf16Support.FromCpuInfo("bugs\t\t: avx512_bf16\nflags\t\t: fpu\n")); // only the flags line counts
        Assert.Null(Bf16Support.Warning(InferencePrecision.Float32, UnleashingTransformers.Torch.Device.CPU));

        // This machine: the command warns exactly when its CPU lacks the instructions.
        var native = Bf16Support.FromCpuInfo(File.ReadAllText("/proc/cpuinfo"));
        var (code, _, stderr) = Ut.Run("sample", "--precision", "BFloat16", "--count", "1", "--steps", "4", "--out", P("s"));
        Assert.Equal(0, code);
        Assert.Equal(!native, stderr.Contains("no bfloat16 instructions"));
        // ut info says which this machine is.
        Assert.Contains(native ? "bfloat16   in hardware" : "bfloat16   emulated", Ut.Ok("info"));
    }

    /// <summary>A valid all-black RGB PNG, its rows compressed as they are written (a few MB of memory).</summary>
    private static void WriteBlankPng(string path, int width, int height)
    {
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bits per sample
        header[9] = 2; // RGB
        Chunk(file, "IHDR", header);
        using var data = new MemoryStream();
        using (var z = new ZLibStream(data, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + 3 * width]; // filter 0, then black pixels
            for (var y = 0; y < height; y++) z.Write(row);
        }
        Chunk(file, "IDAT", data.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream s, string type, byte[] body)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, body.Length);
        s.Write(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(body).ToArray();
        s.Write(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        s.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
