using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// A window silo's VQ-GAN, decoding the tiles of finished canvases for canvas silos: one thread per replica
/// slot (beside the slot's window thread, never on Orleans' scheduler), each tile single-threaded as
/// <c>ut generate</c> decodes it, so a tile's pixels are the same bits wherever it is decoded on one
/// kind of device.
/// </summary>
public sealed class TileDecoder : IDisposable
{
    private readonly VqAutoEncoder _vqgan;
    private readonly Device _device;
    private readonly BlockingCollection<(TileRequest tile, TaskCompletionSource<float[]> done, CancellationToken cancel)> _queue = new();
    private readonly List<Thread> _threads = new();
    private readonly Lazy<DecoderInfo> _info;
    private long _tiles;

    public string Version { get; }
    /// <summary>Tiles decoded so far.</summary>
    public long Tiles => Interlocked.Read(ref _tiles);

    /// <param name="codebookSize">The prior's: the VQ-GAN must decode the codes it generates.</param>
    public TileDecoder(string path, Device device, int threads, int codebookSize)
    {
        _vqgan = VqGanCheckpoint.Load(path, device);
        if (_vqgan.quantize.CodebookSize is var codes && codes != codebookSize)
        {
            _vqgan.Dispose();
            throw new ArgumentException($"VQ-GAN {Path.GetFileName(path)} has {codes} codes but the prior generates {codebookSize}: give the model the VQ-GAN its prior was trained with");
        }
        _device = device;
        Version = ModelVersion.OfFile(path);
        _info = new Lazy<DecoderInfo>(() => new DecoderInfo(Version, _vqgan.Downscale, (int)codes, torch.with_single_thread(() => CodePalette.Of(_vqgan, _device))));
        for (var i = 0; i < threads; i++)
        {
            var t = new Thread(Serve) { IsBackground = true, Name = $"tile-decoder-{i}" };
            t.Start();
            _threads.Add(t);
        }
    }

    /// <summary>Version, downscale, codebook size and palette (computed on first use).</summary>
    public DecoderInfo Info => _info.Value;

    /// <summary>The tile's pixels (3, Height·f, Width·f) as float32, row-major.</summary>
    public Task<float[]> DecodeAsync(TileRequest tile, CancellationToken cancel)
    {
        if (tile.Height < 1 || tile.Width < 1 || tile.Tokens.Length != (long)tile.Height * tile.Width)
            throw new ArgumentException($"a tile of {tile.Height}x{tile.Width} tokens with {tile.Tokens.Length} tokens");
        if (tile.Tokens.Any(t => t < 0 || t >= _vqgan.quantize.CodebookSize))
            throw new ArgumentException($"a tile's token ids must lie in 0..{_vqgan.quantize.CodebookSize - 1}");
        var done = new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((tile, done, cancel), cancel);
        return done.Task;
    }

    private void Serve()
    {
        foreach (var (tile, done, cancel) in _queue.GetConsumingEnumerable())
        {
            // A tile whose caller gave up (deadline, cancelled job) is not decoded.
            if (cancel.IsCancellationRequested)
            {
                done.TrySetCanceled(cancel);
                continue;
            }
            try
            {
                var sw = Stopwatch.StartNew();
                var pixels = torch.with_single_thread(() =>
                {
                    using var decoded = DecodeTiling.DecodeTile(_vqgan, tile.Tokens, tile.Height, tile.Width, _device);
                    return decoded.ToArray<float>();
                });
                GridTelemetry.DecodeTime.Record(sw.Elapsed.TotalMilliseconds);
                GridTelemetry.DecodeTiles.Add(1);
                Interlocked.Increment(ref _tiles);
                done.TrySetResult(pixels);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }
    }

    /// <summary>Float32 pixels as the bytes a <see cref="DecodedTile"/> carries.</summary>
    public static byte[] Bytes(float[] pixels) => MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray();

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var t in _threads) t.Join();
        _queue.Dispose();
        _vqgan.Dispose();
    }
}
