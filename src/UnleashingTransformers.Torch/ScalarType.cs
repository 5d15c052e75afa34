namespace UnleashingTransformers.Torch;

/// <summary>Element types, numbered as c10::ScalarType so they cross the C ABI unchanged.</summary>
public enum ScalarType
{
    Byte = 0, Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, Float16 = 5, Float32 = 6, Float64 = 7,
    ComplexHalf = 8, ComplexFloat = 9, ComplexDouble = 10, Bool = 11, BFloat16 = 15,
}

/// <summary>Tensor memory layouts, numbered as c10::MemoryFormat.</summary>
public enum MemoryFormat { Contiguous = 0, Preserve = 1, ChannelsLast = 2, ChannelsLast3d = 3 }

public static class ScalarTypeExtensions
{
    public static int ElementSize(this ScalarType t) => t switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat => 8,
        ScalarType.ComplexDouble => 16,
        ScalarType.ComplexHalf => 4,
        _ => throw new TorchException($"unknown dtype {t}"),
    };

    public static bool IsFloatingPoint(this ScalarType t) =>
        t is ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16;

    /// <summary>The dtype of a managed element type.</summary>
    public static ScalarType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? ScalarType.Float32 :
        typeof(T) == typeof(double) ? ScalarType.Float64 :
        typeof(T) == typeof(long) ? ScalarType.Int64 :
        typeof(T) == typeof(int) ? ScalarType.Int32 :
        typeof(T) == typeof(short) ? ScalarType.Int16 :
        typeof(T) == typeof(sbyte) ? ScalarType.Int8 :
        typeof(T) == typeof(byte) ? ScalarType.Byte :
        typeof(T) == typeof(bool) ? ScalarType.Bool :
        typeof(T) == typeof(Half) ? ScalarType.Float16 :
        throw new TorchException($"no dtype for managed type {typeof(T).Name}");

    /// <summary>PyTorch's name, as in torch.float32.</summary>
    public static string PyName(this ScalarType t) => t switch
    {
        ScalarType.Byte => "uint8",
        ScalarType.Int8 => "int8",
        ScalarType.Int16 => "int16",
        ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Bool => "bool",
        ScalarType.BFloat16 => "bfloat16",
        _ => t.ToString().ToLowerInvariant(),
    };
}
