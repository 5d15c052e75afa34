using System.Buffers.Binary;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Transports.RabbitMq;

/// <summary>
/// How window requests and results look on the wire. A request carries its window's tokens (int32) and
/// the wanted positions; a result only the wanted positions' probabilities as float32, exactly the bits
/// the replica computed, so a remote job draws the same tokens as an embedded one.
/// </summary>
public static class WindowMessages
{
    public const string ModelHeader = "ut-model";
    public const string ErrorHeader = "ut-error";
    public const string SentHeader = "ut-sent-ms";
    public const string QueueTimeHeader = "ut-queue-ms";
    public const string ComputeTimeHeader = "ut-compute-ms";

    public static byte[] EncodeRequest(WindowRequest r)
    {
        var bytes = new byte[16 + 4 * (r.Tokens.Length + r.Positions.Length)];
        var s = bytes.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(s, r.RequestId);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], r.WindowId);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], r.Tokens.Length);
        var o = 16;
        foreach (var t in r.Tokens) { BinaryPrimitives.WriteInt32LittleEndian(s[o..], checked((int)t)); o += 4; }
        foreach (var p in r.Positions) { BinaryPrimitives.WriteInt32LittleEndian(s[o..], p); o += 4; }
        return bytes;
    }

    public static WindowRequest DecodeRequest(ReadOnlySpan<byte> s)
    {
        if (s.Length < 16) throw new InvalidDataException("window request too short");
        var id = BinaryPrimitives.ReadInt64LittleEndian(s);
        var window = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        var n = BinaryPrimitives.ReadInt32LittleEndian(s[12..]);
        if (n < 0 || 16 + 4L * n > s.Length || (s.Length - 16) % 4 != 0) throw new InvalidDataException("window request malformed");
        var tokens = new long[n];
        var o = 16;
        for (var i = 0; i < n; i++, o += 4) tokens[i] = BinaryPrimitives.ReadInt32LittleEndian(s[o..]);
        var positions = new int[(s.Length - o) / 4];
        for (var i = 0; i < positions.Length; i++, o += 4) positions[i] = BinaryPrimitives.ReadInt32LittleEndian(s[o..]);
        return new WindowRequest(id, window, tokens, positions);
    }

    public static byte[] EncodeResult(WindowResult r)
    {
        var bytes = new byte[12 + 4 * r.Probabilities.Length];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, r.RequestId);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), r.WindowId);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts");
        MemoryMarshal.AsBytes(r.Probabilities.AsSpan()).CopyTo(bytes.AsSpan(12));
        return bytes;
    }

    public static WindowResult DecodeResult(ReadOnlySpan<byte> s)
    {
        if (s.Length < 12 || (s.Length - 12) % 4 != 0) throw new InvalidDataException("window result malformed");
        var probs = MemoryMarshal.Cast<byte, float>(s[12..]).ToArray();
        return new WindowResult(BinaryPrimitives.ReadInt64LittleEndian(s), BinaryPrimitives.ReadInt32LittleEndian(s[8..]), probs);
    }

    public static string? Text(IDictionary<string, object?>? headers, string key) =>
        headers is not null && headers.TryGetValue(key, out var v) ? v switch
        {
            byte[] b => System.Text.Encoding.UTF8.GetString(b),
            string s => s,
            null => null,
            var o => Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture),
        } : null;

    public static double Number(IDictionary<string, object?>? headers, string key) =>
        double.TryParse(Text(headers, key), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;
}
