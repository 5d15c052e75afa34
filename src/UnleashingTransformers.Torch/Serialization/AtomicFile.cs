namespace UnleashingTransformers.Torch.Serialization;

/// <summary>
/// Files that appear complete or not at all (checkpoints, images, token files, logs): the content is
/// written to a temporary file beside the target, then renamed over it; on failure the temporary is
/// removed. The temporary keeps the target's extension, so writers that pick a format by extension work.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<string> writeTemp) => WriteAsync(path, tmp =>
    {
        writeTemp(tmp);
        return Task.CompletedTask;
    }).GetAwaiter().GetResult();

    public static async Task WriteAsync(string path, Func<string, Task> writeTemp)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileNameWithoutExtension(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp{Path.GetExtension(full)}");
        try
        {
            await writeTemp(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    public static void WriteAllText(string path, string text) => Write(path, tmp => File.WriteAllText(tmp, text));
}
