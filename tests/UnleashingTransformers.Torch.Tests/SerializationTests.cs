using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

public class SerializationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ut-ser-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LoadsAnOrderedDictStateDictWithMetadata()
    {
        using var scope = NewDisposeScope();
        var obj = (PyDict)load(Fixtures.PathOf("state_dict.pt"))!;
        Assert.True(obj.IsOrderedDict);
        Assert.True(obj.Attributes.ContainsKey("_metadata"));
        foreach (var p in Fixtures.Expected.GetProperty("state_dict").EnumerateObject())
        {
            var t = (Tensor)obj[p.Name]!;
            Assert.Equal(p.Value.GetProperty("shape").Longs(), t.shape);
            Assert.Equal(p.Value.GetProperty("dtype").GetString(), "torch." + t.dtype.PyName());
            Fixtures.Close(p.Value.GetProperty("values").Doubles(), Fixtures.Values(t), 0);
        }
    }

    [Fact]
    public void LoadsStridedViewsSharingOneStorage()
    {
        using var scope = NewDisposeScope();
        var obj = (PyDict)load(Fixtures.PathOf("strided.pt"))!;
        foreach (var p in Fixtures.Expected.GetProperty("strided").EnumerateObject())
        {
            var t = (Tensor)obj[p.Name]!;
            Assert.Equal(p.Value.GetProperty("shape").Longs(), t.shape);
            Fixtures.Close(p.Value.GetProperty("values").Doubles(), Fixtures.Values(t), 0);
        }
        // The views share the base's storage, as in PyTorch.
        ((Tensor)obj["base"]!)[1, 1] = tensor(new float[] { -1 }).squeeze();
        Assert.Equal(-1f, ((Tensor)obj["narrow"]!)[0, 0].item<float>());
        Assert.Equal(-1f, ((Tensor)obj["t"]!)[1, 1].item<float>());
    }

    [Fact]
    public void LoadsAnInt64LatentCacheAndReducedPrecisionTensors()
    {
        using var scope = NewDisposeScope();
        var latents = load_tensor(Fixtures.PathOf("latents_int64.pt"));
        var exp = Fixtures.Expected.GetProperty("latents");
        Assert.Equal(ScalarType.Int64, latents.dtype);
        Assert.Equal(exp.GetProperty("shape").Longs(), latents.shape);
        Assert.Equal(exp.GetProperty("values").Longs(), latents.ToArray<long>());

        var mixed = load_state_dict(Fixtures.PathOf("mixed_dtypes.pt"));
        foreach (var p in Fixtures.Expected.GetProperty("mixed").EnumerateObject())
        {
            var t = mixed[p.Name];
            Assert.Equal(p.Value.GetProperty("dtype").GetString(), "torch." + t.dtype.PyName());
            Fixtures.Close(p.Value.GetProperty("values").Doubles(), Fixtures.Values(t), 0);
        }
    }

    [Fact]
    public void OwnFilesRoundTripEveryValueKind()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_dir, "all.pt");
        var value = new PyDict
        {
            ["f32"] = arange(6, float32).view(2, 3).t(), // non-contiguous: saved contiguous
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["bf16"] = tensor(new float[] { 1.5f, -2 }).bfloat16(),
            ["flag"] = tensor(new[] { true, false }),
            ["nested"] = new List<object?> { 1L, 300L, 70000L, -5L, 1L << 40, 2.5, "tëxt", null, true, new PyTuple(1L, "a") },
            [7L] = "int key",
        };
        save(value, path);
        var back = (PyDict)load(path)!;
        Assert.True(((Tensor)back["f32"]!).equal((Tensor)value["f32"]!));
        Assert.True(((Tensor)back["i64"]!).equal((Tensor)value["i64"]!));
        Assert.True(((Tensor)back["bf16"]!).equal((Tensor)value["bf16"]!));
        Assert.True(((Tensor)back["flag"]!).equal((Tensor)value["flag"]!));
        var nested = (List<object?>)back["nested"]!;
        Assert.Equal(new object?[] { 1L, 300L, 70000L, -5L, 1L << 40, 2.5, "tëxt", null, true }, nested.Take(9));
        Assert.Equal(new object?[] { 1L, "a" }, ((PyTuple)nested[9]!).Items);
        Assert.Equal("int key", back[7L]);
    }

    [PyTorchFact]
    public void PyTorchReadsOurStateDict()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var m = new Tiny();
        var path = Path.Combine(_dir, "ours.pt");
        save(m.state_dict(), path);
        var spec = new Dictionary<string, object>();
        foreach (var (k, v) in m.state_dict())
            spec[k] = new { shape = v.shape, dtype = "torch." + v.dtype.PyName(), values = Fixtures.Values(v) };
        spec["half"] = new { shape = new long[] { 2 }, dtype = "torch.float16", values = new[] { 0.5, -3.0 } };
        var sd = m.state_dict();
        sd["half"] = tensor(new float[] { 0.5f, -3 }).half();
        save(sd, path);
        var json = Path.Combine(_dir, "spec.json");
        File.WriteAllText(json, System.Text.Json.JsonSerializer.Serialize(spec));
        var (code, output) = PyTorch.Run(Fixtures.PathOf("check_ours.py"), path, json);
        Assert.True(code == 0, output);
        Assert.Contains("ok", output);
    }

    [Fact]
    public void BadFilesGiveOneClearError()
    {
        var missing = Path.Combine(_dir, "nope.pt");
        Assert.Contains("file not found", Assert.Throws<TorchException>(() => load(missing)).Message);

        var text = Path.Combine(_dir, "text.pt");
        File.WriteAllText(text, "hello, not a checkpoint");
        Assert.Contains("not a PyTorch file", Assert.Throws<TorchException>(() => load(text)).Message);

        var legacy = Path.Combine(_dir, "legacy.pt");
        File.WriteAllBytes(legacy, new byte[] { 0x80, 0x02, 0x8a, 0x0a });
        Assert.Contains("legacy", Assert.Throws<TorchException>(() => load(legacy)).Message);

        // Truncations of a real file at many points: always a TorchException naming the file.
        var good = File.ReadAllBytes(Fixtures.PathOf("state_dict.pt"));
        var cut = Path.Combine(_dir, "cut.pt");
        for (var n = 2; n < good.Length; n += good.Length / 23)
        {
            File.WriteAllBytes(cut, good[..n]);
            var e = Assert.Throws<TorchException>(() => load(cut));
            Assert.Contains("cut.pt", e.Message);
        }
        // Flipped bytes inside the pickle: an error or a value, never a crash.
        var rng = new Random(5);
        for (var i = 0; i < 50; i++)
        {
            var bad = (byte[])good.Clone();
            var at = rng.Next(64, Math.Min(good.Length, 1100));
            bad[at] ^= 0x5a;
            File.WriteAllBytes(cut, bad);
            try { load(cut); } catch (TorchException) { }
        }
        // A storage shorter than its tensors need (a zip that is whole, its data not): libtorch refuses the
        // view, and the error still names the file.
        var shortStorage = Path.Combine(_dir, "short.pt");
        using (var source = System.IO.Compression.ZipFile.OpenRead(Fixtures.PathOf("state_dict.pt")))
        using (var target = System.IO.Compression.ZipFile.Open(shortStorage, System.IO.Compression.ZipArchiveMode.Create))
        {
            var storages = source.Entries.Where(e => e.FullName.Contains("/data/")).ToList();
            var largest = storages.MaxBy(e => e.Length)!;
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                var bytes = new byte[entry.Length];
                from.ReadExactly(bytes);
                using var to = target.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
                to.Write(entry == largest ? bytes[..(bytes.Length / 2)] : bytes);
            }
        }
        Assert.StartsWith(shortStorage, Assert.Throws<TorchException>(() => load(shortStorage)).Message);
        // A file that is not a state dict.
        Assert.Contains("not a state dict", Assert.Throws<TorchException>(() => load_state_dict(Fixtures.PathOf("latents_int64.pt"))).Message);
    }

    [Fact]
    public void SaveIsAtomicAndLeavesNoPartialFile()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_dir, "ckpt.pt");
        save(new PyDict { ["a"] = ones(3) }, path);
        // A value that cannot be written: the earlier file stays intact and no temporary is left.
        Assert.Throws<TorchException>(() => save(new PyDict { ["a"] = ones(3), ["bad"] = new object() }, path));
        Assert.True(((Tensor)((PyDict)load(path)!)["a"]!).equal(ones(3)));
        Assert.Equal(new[] { "ckpt.pt" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Throws<TorchException>(() => save(ones(1), Path.Combine(_dir, "no-such-dir", "x.pt")));
    }
}
