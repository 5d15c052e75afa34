using System.Text.Json;
using System.Text.Json.Serialization;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Grid.Jobs;

public enum JobState { Queued, Running, Done, Failed, Cancelled }

/// <summary>What the gateway reports of a job.</summary>
public sealed record JobStatus(string Id, JobState State, int Step, int Steps, long Revealed, long Total, string? Error, DateTimeOffset Updated)
{
    public bool Finished => State is JobState.Done or JobState.Failed or JobState.Cancelled;
}

/// <summary>A job as submitted: its spec and the weights version it must be generated with.</summary>
public sealed record JobRecord(string Id, CanvasJobSpec Spec, string Model, DateTimeOffset Created);

/// <summary>A canvas's resumable state: the tokens after <c>Step</c> steps.</summary>
public sealed record CanvasState(int Step, long[] Tokens);

/// <summary>
/// Jobs in the state directory, one folder each: <c>job.json</c> (the request), <c>status.json</c>,
/// <c>canvas.json</c> (tokens and step, saved every N steps), <c>image.png</c> and a <c>cancel</c> mark.
/// Every file is written atomically, so a silo killed at any moment leaves either the old or the new
/// version. A canvas silo works on a job while holding its <c>lock</c> file open exclusively: the lock
/// dies with the process, so a restarted silo (or another one sharing the directory) takes the job over.
/// </summary>
public sealed class JobStore
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) }, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string Root { get; }

    public JobStore(string stateDirectory)
    {
        Root = Path.Combine(Path.GetFullPath(stateDirectory), "jobs");
        Directory.CreateDirectory(Root);
    }

    private string Dir(string id) => Path.Combine(Root, id);
    public string ImagePath(string id) => Path.Combine(Dir(id), "image.png");

    public static bool ValidId(string id) => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    public JobRecord Create(CanvasJobSpec spec, string model)
    {
        var id = Guid.NewGuid().ToString("N")[..16];
        // Written to a temporary folder and renamed: a job appears whole or not at all.
        var tmp = Path.Combine(Root, $".new-{id}");
        Directory.CreateDirectory(tmp);
        var record = new JobRecord(id, spec, model, DateTimeOffset.UtcNow);
        File.WriteAllText(Path.Combine(tmp, "job.json"), JsonSerializer.Serialize(record, Json));
        File.WriteAllText(Path.Combine(tmp, "status.json"), JsonSerializer.Serialize(new JobStatus(id, JobState.Queued, 0, spec.Steps, 0, (long)spec.Height * spec.Width, null, record.Created), Json));
        Directory.Move(tmp, Dir(id));
        return record;
    }

    public JobRecord? Find(string id) => ValidId(id) && File.Exists(Path.Combine(Dir(id), "job.json"))
        ? JsonSerializer.Deserialize<JobRecord>(File.ReadAllText(Path.Combine(Dir(id), "job.json")), Json) : null;

    public JobStatus? Status(string id) => ValidId(id) && File.Exists(Path.Combine(Dir(id), "status.json"))
        ? JsonSerializer.Deserialize<JobStatus>(File.ReadAllText(Path.Combine(Dir(id), "status.json")), Json) : null;

    public void WriteStatus(JobStatus status) => AtomicFile.WriteAllText(Path.Combine(Dir(status.Id), "status.json"), JsonSerializer.Serialize(status, Json));

    public CanvasState? LoadCanvas(string id)
    {
        var path = Path.Combine(Dir(id), "canvas.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<CanvasState>(File.ReadAllText(path), Json) : null;
    }

    public void SaveCanvas(string id, CanvasState state) => AtomicFile.WriteAllText(Path.Combine(Dir(id), "canvas.json"), JsonSerializer.Serialize(state, Json));

    public void RequestCancel(string id) => File.WriteAllText(Path.Combine(Dir(id), "cancel"), "");
    public bool CancelRequested(string id) => File.Exists(Path.Combine(Dir(id), "cancel"));

    /// <summary>Jobs not finished, oldest first. (A finished job stays finished, so its status is
    /// read once, not at every poll.)</summary>
    public IEnumerable<string> Unfinished()
    {
        var open = new List<(string id, DateTime created)>();
        foreach (var id in Directory.EnumerateDirectories(Root).Select(Path.GetFileName).OfType<string>())
        {
            if (!ValidId(id) || _finished.ContainsKey(id) || Status(id) is not { } status) continue;
            if (status.Finished) _finished[id] = true;
            else open.Add((id, File.GetCreationTimeUtc(Path.Combine(Dir(id), "job.json"))));
        }
        return open.OrderBy(j => j.created).Select(j => j.id).ToList();
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _finished = new();

    /// <summary>The job's lock, or null when another live process holds it.</summary>
    public IDisposable? TryClaim(string id)
    {
        try
        {
            return new FileStream(Path.Combine(Dir(id), "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
