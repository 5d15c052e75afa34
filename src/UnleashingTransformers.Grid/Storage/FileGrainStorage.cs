using Orleans.Serialization;
using Orleans.Storage;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Grid.Storage;

/// <summary>
/// Grain state in files under a directory (the embedded default: no service to run): one file per grain,
/// Orleans' binary serializer, written to a temporary file and renamed, so a process killed at any moment
/// leaves the old state or the new one. The file's write time is the ETag: a second activation's stale
/// write is refused with <see cref="InconsistentStateException"/>. Unreadable state is an error naming the file.
/// </summary>
public sealed class FileGrainStorage(string directory, Serializer serializer) : IGrainStorage
{
    private string PathOf(string stateName, GrainId grain)
    {
        var name = string.Concat(grain.ToString().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_'));
        return Path.Combine(directory, stateName, name + ".bin");
    }

    private static string? ETagOf(string path) => File.Exists(path) ? File.GetLastWriteTimeUtc(path).Ticks.ToString() : null;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.State = Activator.CreateInstance<T>();
            (grainState.ETag, grainState.RecordExists) = (null, false);
            return Task.CompletedTask;
        }
        try
        {
            grainState.State = serializer.Deserialize<T>(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: state of {grainId} is unreadable ({e.Message})", e);
        }
        (grainState.ETag, grainState.RecordExists) = (ETagOf(path), true);
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (ETagOf(path) != grainState.ETag)
            throw new InconsistentStateException($"{grainId}: its state was written by another activation", ETagOf(path), grainState.ETag);
        var bytes = serializer.SerializeToArray(grainState.State);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, tmp =>
        {
            using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write);
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        });
        (grainState.ETag, grainState.RecordExists) = (ETagOf(path), true);
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        File.Delete(path);
        grainState.State = Activator.CreateInstance<T>();
        (grainState.ETag, grainState.RecordExists) = (null, false);
        return Task.CompletedTask;
    }
}
