using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// A training run's checkpoints in one directory: for each saved step, reference-format files
/// (<c>{kind}_{step}.th</c>, <c>{kind}_ema_{step}.th</c>, <c>{kind}_optim_{step}.th</c>) and, written
/// last, <c>{kind}_train_{step}.th</c> with the trainer's own state. Each file is written atomically,
/// and a step counts only once its train-state file exists, so a process killed at any moment leaves
/// the newest complete checkpoint to resume from. The last <see cref="Keep"/> complete ones are kept.
/// </summary>
public sealed class CheckpointSet(string directory, string kind, int keep)
{
    public string Directory { get; } = directory;
    public int Keep { get; } = Math.Max(1, keep);

    public string ModelPath(long step) => Path.Combine(Directory, $"{kind}_{step}.th");
    public string EmaPath(long step) => Path.Combine(Directory, $"{kind}_ema_{step}.th");
    public string OptimPath(long step) => Path.Combine(Directory, $"{kind}_optim_{step}.th");
    public string StatePath(long step) => Path.Combine(Directory, $"{kind}_train_{step}.th");

    /// <summary>Steps with a complete checkpoint, newest first.</summary>
    public List<long> CompleteSteps()
    {
        if (!System.IO.Directory.Exists(Directory)) return new List<long>();
        var prefix = $"{kind}_train_";
        return System.IO.Directory.GetFiles(Directory, $"{prefix}*.th")
            .Select(f => Path.GetFileNameWithoutExtension(f)[prefix.Length..])
            .Select(s => long.TryParse(s, out var v) ? v : -1)
            .Where(s => s >= 0 && File.Exists(ModelPath(s)) && File.Exists(EmaPath(s)) && File.Exists(OptimPath(s)))
            .OrderByDescending(s => s)
            .ToList();
    }

    /// <summary>Where a run starts, the one rule both trainers keep: an empty directory starts at step 0; with
    /// <paramref name="resume"/> the newest complete checkpoint is the start (step 0 when there is none, said
    /// through <paramref name="say"/>); a directory holding checkpoints without <paramref name="resume"/> is
    /// refused, so no run overwrites another by accident. The run's log is trimmed to the start (entries a
    /// killed run wrote after its checkpoint go) or, from step 0, begun anew; a rank that keeps no log gives none.</summary>
    public long? ResumeStep<TLog>(bool resume, string? logPath, Func<TLog, long> stepOf, Action<string>? say)
    {
        var existing = CompleteSteps();
        if (existing.Count > 0 && !resume)
            throw new SettingException(SettingNames.Output,
                $"{Directory} has checkpoints (newest step {existing[0]}): give {SettingException.Ref(SettingNames.Resume)} to continue, or another folder");
        if (existing.Count == 0)
        {
            if (resume) say?.Invoke($"resume: no checkpoint in {Directory}, starting from step 0");
            if (logPath is not null) File.Delete(logPath);
            return null;
        }
        if (logPath is not null) TrainingLog.TrimAfter(logPath, existing[0], stepOf);
        say?.Invoke($"resuming from step {existing[0]} ({StatePath(existing[0])})");
        return existing[0];
    }

    public void Save(long step, object model, object ema, object optim, PyDict state)
    {
        torch.save(model, ModelPath(step));
        torch.save(ema, EmaPath(step));
        torch.save(optim, OptimPath(step));
        torch.save(state, StatePath(step)); // last: marks the set complete
        foreach (var old in CompleteSteps().Skip(Keep))
            foreach (var f in new[] { StatePath(old), ModelPath(old), EmaPath(old), OptimPath(old) })
                File.Delete(f);
    }
}
