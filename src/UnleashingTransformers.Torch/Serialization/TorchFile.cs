using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace UnleashingTransformers.Torch.Serialization;

/// <summary>
/// PyTorch's file format (torch.save since 1.6): an uncompressed zip holding <c>PREFIX/data.pkl</c>
/// (the pickled object), <c>PREFIX/data/KEY</c> (raw little-endian storage bytes) and
/// <c>PREFIX/version</c>. libtorch 1.13's own pickle reader cannot read OrderedDict state dicts,
/// so the pickle is read here and only storage bytes go to native memory.
/// </summary>
public static class TorchFile
{
    /// <summary>A storage of the file, loaded once as a 1-D tensor that tensors are views of.</summary>
    internal sealed record StorageRef(Tensor Data, ScalarType Type);

    public static object? Load(string path)
    {
        if (!File.Exists(path)) throw new TorchException($"{path}: file not found");
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        if (stream.Read(magic) < 2 || magic[0] != (byte)'P' || magic[1] != (byte)'K')
        {
            var legacy = magic[0] == 0x80 || magic[0] == 0x8a;
            throw new TorchException(legacy
                ? $"{path}: PyTorch's legacy (pre-1.6) format; re-save it with a newer torch.save"
                : $"{path}: not a PyTorch file (expected the zip format torch.save writes)");
        }
        stream.Position = 0;
        var storages = new Dictionary<string, StorageRef>();
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read);
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl"))
                ?? throw new TorchException($"{path}: no data.pkl inside; not a torch.save file");
            var prefix = pkl.FullName[..^"data.pkl".Length];
            var pickle = ReadAll(pkl);

            object LoadStorage(PyTuple pid)
            {
                if (pid.Count < 5 || pid[0] as string != "storage" || pid[1] is not PyGlobal cls || pid[2] is not string key)
                    throw new InvalidDataException("unexpected persistent id");
                if (storages.TryGetValue(key, out var known)) return known;
                var dtype = Pickler.StorageType(cls.Name) ?? throw new TorchException($"{path}: unsupported storage type {cls}");
                var entry = zip.GetEntry($"{prefix}data/{key}") ?? throw new InvalidDataException($"storage {key} missing");
                var numel = entry.Length / dtype.ElementSize();
                var data = torch.empty(new[] { numel }, dtype);
                using (var s = entry.Open()) s.ReadExactly(data.Bytes());
                return storages[key] = new StorageRef(data, dtype);
            }

            return new Unpickler(pickle, LoadStorage).Load();
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or InvalidCastException or IOException)
        {
            throw new TorchException($"{path}: corrupt or truncated PyTorch file ({e.Message})");
        }
        catch (TorchException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // libtorch's own refusals (a tensor reaching past its storage, ...) do not know the file.
            throw new TorchException($"{path}: corrupt PyTorch file ({e.Message})");
        }
        finally
        {
            foreach (var s in storages.Values) s.Data.Dispose();
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var s = entry.Open();
        var bytes = new byte[entry.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    internal static Tensor RebuildTensor(PyTuple a)
    {
        if (a.Count < 4 || a[0] is not StorageRef storage || a[2] is not PyTuple size || a[3] is not PyTuple stride)
            throw new InvalidDataException("unexpected _rebuild_tensor arguments");
        var offset = Convert.ToInt64(a[1]);
        var sizes = size.Select(Convert.ToInt64).ToArray();
        var strides = stride.Select(Convert.ToInt64).ToArray();
        return storage.Data.as_strided(sizes, strides, offset);
    }

    /// <summary>
    /// Writes <paramref name="value"/> as torch.save does. The file appears complete or not at all: it
    /// is written beside the target, flushed to disk, then renamed over it.
    /// </summary>
    public static void Save(object? value, string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new TorchException($"{path}: directory {dir} does not exist");
        AtomicFile.Write(full, tmp =>
        {
            using var scope = torch.NewDisposeScope();
            var storages = new List<Tensor>();
            var pickle = new Pickler(t =>
            {
                // Each tensor is written as its own contiguous CPU storage.
                storages.Add(t.detach().cpu().contiguous());
                return (storages.Count - 1).ToString();
            }).Dump(value);

            using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write);
            var zip = new ZipWriter(file);
            zip.Add("archive/data.pkl", pickle);
            zip.Add("archive/byteorder", "little"u8.ToArray());
            for (var i = 0; i < storages.Count; i++) zip.Add($"archive/data/{i}", storages[i].Bytes());
            zip.Add("archive/version", "3\n"u8.ToArray());
            zip.Finish();
            file.Flush(flushToDisk: true);
        });
    }

    /// <summary>A minimal zip writer: stored entries whose data start on 64-byte boundaries, as
    /// PyTorch's writer aligns them (so readers may memory-map storages).</summary>
    private sealed class ZipWriter(Stream output)
    {
        private readonly List<(string name, uint crc, long size, long offset)> _entries = new();

        public void Add(string name, ReadOnlySpan<byte> data)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var offset = output.Position;
            var headerEnd = offset + 30 + nameBytes.Length + 4;
            var pad = (int)((64 - headerEnd % 64) % 64);
            if (offset + data.Length > uint.MaxValue)
                throw new TorchException("torch.save: files over 4 GiB are not supported");
            var crc = Crc32.Compute(data);
            Span<byte> h = stackalloc byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);   // version needed
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0);    // flags
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0);    // stored
            BinaryPrimitives.WriteUInt16LittleEndian(h[10..], 0);   // time
            BinaryPrimitives.WriteUInt16LittleEndian(h[12..], 0x21); // date 1980-01-01
            BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[18..], (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[22..], (uint)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(4 + pad));
            output.Write(h);
            output.Write(nameBytes);
            Span<byte> extra = stackalloc byte[4 + pad];
            extra.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246); // "FB": padding, as PyTorch
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)pad);
            output.Write(extra);
            output.Write(data);
            _entries.Add((name, crc, data.Length, offset));
        }

        public void Finish()
        {
            var start = output.Position;
            Span<byte> c = stackalloc byte[46];
            foreach (var (name, crc, size, offset) in _entries)
            {
                var nameBytes = Encoding.UTF8.GetBytes(name);
                BinaryPrimitives.WriteUInt32LittleEndian(c, 0x02014b50);
                BinaryPrimitives.WriteUInt16LittleEndian(c[4..], 20);
                BinaryPrimitives.WriteUInt16LittleEndian(c[6..], 20);
                BinaryPrimitives.WriteUInt16LittleEndian(c[8..], 0);
                BinaryPrimitives.WriteUInt16LittleEndian(c[10..], 0);
                BinaryPrimitives.WriteUInt16LittleEndian(c[12..], 0);
                BinaryPrimitives.WriteUInt16LittleEndian(c[14..], 0x21);
                BinaryPrimitives.WriteUInt32LittleEndian(c[16..], crc);
                BinaryPrimitives.WriteUInt32LittleEndian(c[20..], (uint)size);
                BinaryPrimitives.WriteUInt32LittleEndian(c[24..], (uint)size);
                BinaryPrimitives.WriteUInt16LittleEndian(c[28..], (ushort)nameBytes.Length);
                BinaryPrimitives.WriteUInt16LittleEndian(c[30..], 0); // extra
                BinaryPrimitives.WriteUInt16LittleEndian(c[32..], 0); // comment
                BinaryPrimitives.WriteUInt16LittleEndian(c[34..], 0); // disk
                BinaryPrimitives.WriteUInt16LittleEndian(c[36..], 0); // internal attrs
                BinaryPrimitives.WriteUInt32LittleEndian(c[38..], 0); // external attrs
                BinaryPrimitives.WriteUInt32LittleEndian(c[42..], (uint)offset);
                output.Write(c);
                output.Write(nameBytes);
            }
            var end = output.Position;
            Span<byte> e = stackalloc byte[22];
            BinaryPrimitives.WriteUInt32LittleEndian(e, 0x06054b50);
            BinaryPrimitives.WriteUInt16LittleEndian(e[8..], (ushort)_entries.Count);
            BinaryPrimitives.WriteUInt16LittleEndian(e[10..], (ushort)_entries.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(e[12..], (uint)(end - start));
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)start);
            output.Write(e);
        }
    }

    private static class Crc32
    {
        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            var c = (uint)n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Compute(ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc ^ 0xFFFFFFFFu;
        }
    }
}
