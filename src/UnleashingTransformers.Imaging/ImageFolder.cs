using System.Collections.Concurrent;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Imaging;

/// <summary>
/// An image folder (searched recursively, files with image extensions, in ordinal path order so the
/// order is the same on every machine) and its deterministic split: the last <c>valFraction</c> of
/// files in index order are the validation set, as the reference splits FFHQ.
/// </summary>
public sealed class ImageFolder
{
    public string Root { get; }
    public IReadOnlyList<string> Files { get; }

    private ImageFolder(string root, IReadOnlyList<string> files) { Root = root; Files = files; }

    public static ImageFolder Open(string root)
    {
        if (!Directory.Exists(root)) throw new ArgumentException($"{root}: no such directory");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => Images.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new ArgumentException($"{root}: no image files ({string.Join(", ", Images.Extensions)}) in it or below it");
        return new ImageFolder(root, files);
    }

    public (IReadOnlyList<string> train, IReadOnlyList<string> val) Split(double valFraction)
    {
        if (valFraction is < 0 or >= 1) throw new ArgumentException("validation fraction must be in [0, 1)");
        var nVal = (int)Math.Floor(Files.Count * valFraction);
        return (Files.Take(Files.Count - nVal).ToList(), Files.Skip(Files.Count - nVal).ToList());
    }
}

/// <summary>
/// Training batches from a list of image files, prepared on a background thread while the model
/// trains. The batch of each step is a function of (seed, step): a per-epoch permutation seeded by
/// the epoch, consecutive slices of it; so a resumed run sees the batches an uninterrupted one would.
/// A data-parallel rank reads only its rows of each global batch (<c>first</c>, <c>count</c>), the
/// files one process would read for those rows. A file that cannot be read is reported by path once,
/// skipped (its row takes the next readable file of the permutation), and counted in <see cref="Skipped"/>.
/// </summary>
public sealed class ImageBatches : IDisposable
{
    private readonly IReadOnlyList<string> _files;
    private readonly int _size, _batch, _first, _count;
    private readonly ulong _seed;
    private readonly bool _hflip;
    private readonly BlockingCollection<(long step, Tensor images)> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly ConcurrentDictionary<string, string> _skipped = new();
    private readonly Dictionary<long, long[]> _perms = new();
    private Exception? _failure;

    public Action<string>? OnSkip { get; init; }

    /// <summary>Unreadable files and why.</summary>
    public IReadOnlyDictionary<string, string> Skipped => _skipped;

    /// <param name="share">The rows of each global batch of <paramref name="batch"/> this process reads (all when null).</param>
    public ImageBatches(IReadOnlyList<string> files, int size, int batch, ulong seed, bool hflip, long startStep, int prefetch = 3, Action<string>? onSkip = null,
        (int first, int count)? share = null)
    {
        if (files.Count == 0) throw new ArgumentException("no training images");
        (_files, _size, _batch, _seed, _hflip) = (files, size, batch, seed, hflip);
        (_first, _count) = share ?? (0, batch);
        OnSkip = onSkip;
        _queue = new BlockingCollection<(long, Tensor)>(Math.Max(1, prefetch));
        _worker = Task.Run(() => Produce(startStep));
    }

    private void Produce(long step)
    {
        try
        {
            for (; !_stop.IsCancellationRequested; step++)
                _queue.Add((step, Make(step)), _stop.Token);
        }
        catch (OperationCanceledException) { }
        catch (Exception e)
        {
            _failure = e;
            _queue.CompleteAdding();
        }
    }

    /// <summary>The next step's batch (B, 3, size, size) float in [0, 1]; the caller disposes it.</summary>
    public (long step, Tensor images) Next()
    {
        try
        {
            return _queue.Take(_stop.Token);
        }
        catch (InvalidOperationException) when (_failure is not null)
        {
            throw _failure is ArgumentException ? _failure : new InvalidOperationException($"loading images failed: {_failure.Message}", _failure);
        }
    }

    private Tensor Make(long step)
    {
        var images = new List<Tensor>(_count);
        var n = _files.Count;
        for (var row = _first; row < _first + _count; row++)
        {
            var cursor = step * _batch + row;
            for (var attempts = 0; ; attempts++, cursor++)
            {
                if (attempts > n) throw new ArgumentException("no readable images: every file failed to load");
                var file = _files[(int)Permutation(cursor / n)[cursor % n]];
                if (_skipped.ContainsKey(file)) continue;
                try
                {
                    images.Add(Images.LoadPrepared(file, _size));
                    break;
                }
                catch (Exception e) when (e is TorchException or ArgumentException or IOException)
                {
                    if (_skipped.TryAdd(file, e.Message)) OnSkip?.Invoke(e.Message);
                }
            }
        }
        var batch = stack(images);
        foreach (var t in images) t.Dispose();
        // The reference flips the whole batch with probability 1/2.
        if (_hflip && (Mix(_seed ^ 0x5EED, (ulong)step) & 1) == 1)
        {
            var flipped = batch.flip(3);
            batch.Dispose();
            batch = flipped;
        }
        return batch;
    }

    /// <summary>The order of the files in <paramref name="epoch"/> (the newest two epochs' kept: a batch spans at most two).</summary>
    private long[] Permutation(long epoch)
    {
        if (_perms.TryGetValue(epoch, out var perm)) return perm;
        using var g = new Generator(Mix(_seed, (ulong)epoch));
        using var p = randperm(_files.Count, g);
        foreach (var old in _perms.Keys.Where(e => e < epoch - 1).ToList()) _perms.Remove(old);
        return _perms[epoch] = p.ToArray<long>();
    }

    private static ulong Mix(ulong a, ulong b)
    {
        var z = a * 0x9E3779B97F4A7C15UL ^ (b + 0xD1B54A32D192ED03UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _worker.Wait(); } catch (AggregateException) { }
        while (_queue.TryTake(out var item)) item.images.Dispose();
        _queue.Dispose();
        _stop.Dispose();
    }
}
