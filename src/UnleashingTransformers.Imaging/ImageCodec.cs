using System.Runtime.InteropServices;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Imaging;

/// <summary>An image file that cannot be read or written: missing, truncated, corrupt, over the pixel limit, or
/// a format libvips does not write. The message names the file and the problem.</summary>
public sealed class ImageException(string message) : IOException(message);

/// <summary>Image decoding and encoding through libvips (linked into the native library, <c>src/Native/src/image.cpp</c>).</summary>
public static class ImageCodec
{
    public static string VipsVersion => Vips.Str(Vips.ut_vips_version());

    /// <summary>The most pixels an image may have to be decoded (10^8, a 10000x10000 image: 300 MB of
    /// pixels, several GB once a float tensor): a small file can hold a huge image.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Decodes any image libvips reads (PNG, JPEG, WebP, ...) to an 8-bit sRGB tensor
    /// (H, W, 3): grey expanded, alpha dropped, 16-bit reduced. A truncated or corrupt file is an error,
    /// as is one over <paramref name="maxPixels"/> (checked from its header, before decoding; 0: no limit).
    /// With <paramref name="shrinkTo"/> > 0, an image whose shorter side is more than twice that is decoded
    /// already reduced to that shorter side (libvips' shrink-on-load), never whole.</summary>
    public static Tensor Decode(string path, long maxPixels = DefaultMaxPixels, int shrinkTo = 0)
    {
        if (!File.Exists(path)) throw new ImageException($"{path}: file not found");
        Vips.Check(Vips.ut_image_load(path, maxPixels, shrinkTo, out var w, out var h, out var pixels));
        try
        {
            unsafe
            {
                return torch.from_bytes(new ReadOnlySpan<byte>((void*)pixels, checked(w * h * 3)), ScalarType.Byte, h, w, 3);
            }
        }
        finally
        {
            Vips.ut_free(pixels);
        }
    }

    /// <summary>Encodes interleaved (H, W, bands) uint8 pixels; the format follows the extension. A PNG carries
    /// <paramref name="parameters"/>, when given, in a text chunk named <c>parameters</c>.</summary>
    public static unsafe void Encode(string path, ReadOnlySpan<byte> pixels, int width, int height, int bands, int quality = 95, string? parameters = null)
    {
        if (pixels.Length != (long)width * height * bands)
            throw new ImageException($"{path}: {pixels.Length} bytes for a {width}x{height}x{bands} image");
        fixed (byte* p = pixels) Vips.Check(Vips.ut_image_save(path, p, width, height, bands, quality, parameters));
    }

    /// <summary>Reads an image file and writes it again in the format of <paramref name="path"/>'s extension (.tif
    /// tiled and pyramidal, .dzi a DeepZoom pyramid), streaming through libvips: never whole in memory.</summary>
    public static void Convert(string source, string path, int quality = 90)
    {
        if (!File.Exists(source)) throw new ImageException($"{source}: file not found");
        Vips.Check(Vips.ut_image_convert(source, path, quality));
    }

    /// <summary>Writes a raw file of interleaved (H, W, bands) uint8 pixels as an image by <paramref name="path"/>'s
    /// extension, streaming from the file (images too large to hold in memory).</summary>
    public static void EncodeRaw(string raw, int width, int height, int bands, string path, int quality = 95, string? parameters = null)
    {
        if (new FileInfo(raw).Length != (long)width * height * bands) throw new ImageException($"{raw}: not {width}x{height}x{bands} bytes");
        Vips.Check(Vips.ut_image_save_raw(raw, width, height, bands, path, quality, parameters));
    }

    /// <summary>Encodes interleaved (H, W, bands) uint8 pixels in memory (format ".png", ".jpg", ...).</summary>
    public static unsafe byte[] EncodeToBytes(string format, ReadOnlySpan<byte> pixels, int width, int height, int bands)
    {
        if (pixels.Length != (long)width * height * bands) throw new ImageException($"{pixels.Length} bytes for a {width}x{height}x{bands} image");
        IntPtr data;
        long length;
        fixed (byte* p = pixels) Vips.Check(Vips.ut_image_encode(format, p, width, height, bands, out data, out length));
        try
        {
            return new ReadOnlySpan<byte>((void*)data, checked((int)length)).ToArray();
        }
        finally
        {
            Vips.ut_free(data);
        }
    }

    /// <summary>A PNG's text chunk named <paramref name="key"/>, read from its header (null when it has none).</summary>
    public static string? Text(string path, string key)
    {
        if (!File.Exists(path)) throw new ImageException($"{path}: file not found");
        Vips.Check(Vips.ut_image_text(path, key, out var value));
        if (value == IntPtr.Zero) return null;
        try
        {
            return Vips.Str(value);
        }
        finally
        {
            Vips.ut_free(value);
        }
    }
}

/// <summary>The image functions of libut_native (src/Native/include/ut_native.h).</summary>
internal static unsafe partial class Vips
{
    private const string Lib = "ut_native";

    [LibraryImport(Lib)] internal static partial IntPtr ut_last_error();
    [LibraryImport(Lib)] internal static partial void ut_free(IntPtr p);
    [LibraryImport(Lib)] internal static partial IntPtr ut_vips_version();
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_load(string path, long maxPixels, int shrinkTo, out int width, out int height, out IntPtr pixels);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_save(string path, byte* pixels, int width, int height, int bands, int quality, string? parameters);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_text(string path, string key, out IntPtr value);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_convert(string source, string path, int quality);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_save_raw(string raw, int width, int height, int bands, string path, int quality, string? parameters);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_image_encode(string format, byte* pixels, int width, int height, int bands, out IntPtr data, out long length);

    /// <summary>Throws the native side's last error when <paramref name="rc"/> says it failed.</summary>
    internal static void Check(int rc)
    {
        if (rc != 0) throw new ImageException(Marshal.PtrToStringUTF8(ut_last_error()) ?? "image error");
    }

    internal static string Str(IntPtr p) => Marshal.PtrToStringUTF8(p) ?? "";
}
