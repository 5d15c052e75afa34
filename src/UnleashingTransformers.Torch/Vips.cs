using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

/// <summary>libvips, linked into the same native library (image I/O builds on it).</summary>
public static class Vips
{
    public static string Version => Native.Str(Native.ut_vips_version());
}
