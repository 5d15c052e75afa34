using System.Text.Json;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Training;

/// <summary>The trainers' JSON-lines logs.</summary>
public static class TrainingLog
{
    /// <summary>On resume from <paramref name="step"/>: drops entries past it (written after the
    /// checkpoint by the run that died), so the log reads as one uninterrupted run.</summary>
    public static void TrimAfter<T>(string path, long step, Func<T, long> stepOf)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(l =>
        {
            try { return JsonSerializer.Deserialize<T>(l) is { } e && stepOf(e) <= step; }
            catch (JsonException) { return false; }
        }).ToArray();
        AtomicFile.WriteAllText(path, kept.Length == 0 ? "" : string.Join("\n", kept) + "\n");
    }
}
