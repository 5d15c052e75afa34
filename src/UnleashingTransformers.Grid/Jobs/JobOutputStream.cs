using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// One of a job's outputs as a read-only, seekable stream, read from its job grain a bounded chunk at a
/// time (<see cref="OutputInfo.MaxChunk"/>): what the gateway serves, with Range requests, and what
/// <c>ut submit --cluster</c> saves. Every read names the version it started on; an output that changed
/// or went away under a reader fails the read instead of splicing two versions.
/// </summary>
public sealed class JobOutputStream : Stream
{
    private readonly ICanvasJobGrain _job;
    private readonly string _file;
    private byte[] _chunk = [];
    private long _chunkStart;
    private long _position;

    public OutputInfo Info { get; }

    private JobOutputStream(ICanvasJobGrain job, string file, OutputInfo info) => (_job, _file, Info) = (job, file, info);

    /// <summary>The output, or null when the job has no such output (yet).</summary>
    public static async Task<JobOutputStream?> OpenAsync(ICanvasJobGrain job, string file) =>
        await job.OutputAsync(file) is { } info ? new JobOutputStream(job, file, info) : null;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => Info.Length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= Length || buffer.Length == 0) return 0;
        if (_position < _chunkStart || _position >= _chunkStart + _chunk.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = await _job.ReadAsync(_file, Info.ETag, _position, OutputInfo.MaxChunk)
                ?? throw new IOException($"{_file} changed or was removed while it was read: read it again");
            if (chunk.Length == 0) throw new IOException($"{_file} ended at byte {_position} of {Length}: read it again");
            (_chunk, _chunkStart) = (chunk, _position);
        }
        var n = (int)Math.Min(buffer.Length, _chunkStart + _chunk.Length - _position);
        _chunk.AsMemory((int)(_position - _chunkStart), n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => Length + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
