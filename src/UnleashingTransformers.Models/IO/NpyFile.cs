using System.Buffers.Binary;
using System.Text;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.IO;

/// <summary>
/// Writes a tensor as a NumPy .npy file (format version 1.0: magic, a header dict padded to 64 bytes,
/// then the values in C order), float64: feature sets that numpy, scipy or another FID tool reads as they are.
/// </summary>
public static class NpyFile
{
    public static void Write(string path, Tensor values)
    {
        using var scope = NewDisposeScope();
        var data = values.to(float64).cpu().contiguous().ToArray<double>();
        var shape = values.shape.Length == 1 ? $"({values.shape[0]},)" : $"({string.Join(", ", values.shape)})";
        var dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}";
        const int Preamble = 10;   // magic (6), version (2), header length (2)
        var padded = dict.PadRight((Preamble + dict.Length + 1 + 63) / 64 * 64 - Preamble - 1) + "\n";
        AtomicFile.Write(path, tmp =>
        {
            using var file = File.Create(tmp);
            file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
            Span<byte> length = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)padded.Length);
            file.Write(length);
            file.Write(Encoding.ASCII.GetBytes(padded));
            var bytes = new byte[data.Length * sizeof(double)];
            for (var i = 0; i < data.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)), data[i]);
            file.Write(bytes);
        });
    }
}
