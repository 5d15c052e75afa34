using System.Text.Json;
using System.Text.Json.Serialization;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// How a canvas image was made, as its PNG's <c>parameters</c> text chunk records it: the weights' versions
/// (SHA-256 prefixes of the prior and VQ-GAN files), the job, the decode tile, and what it started from when
/// it did not start from an empty canvas (an edit's source, an outpainting's init). The same job on the same
/// weights writes the same text, so <c>ut generate --from</c> reproduces the file byte for byte.
/// </summary>
public sealed record ImageParameters(string Prior, string VqGan, CanvasJobSpec Job, int DecodeTile = 0, string? Init = null)
{
    /// <summary>The name of the PNG text chunk.</summary>
    public const string Chunk = "parameters";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The record's text. The job's model name is left out: the weights are named by version (a name moves to
    /// new versions), so a job on the grid and <c>ut generate</c> with the same files write the same text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this with { Job = Job with { Model = null } }, Json);

    /// <summary>Reads a chunk's text; throws ArgumentException naming the file when it is not a canvas job's record.</summary>
    public static ImageParameters Parse(string text, string file)
    {
        try
        {
            if (JsonSerializer.Deserialize<ImageParameters>(text, Json) is { Job: not null, Prior: not null, VqGan: not null } p) return p;
        }
        catch (JsonException)
        {
        }
        throw new ArgumentException($"{file}: its parameters are not a canvas job's (made by another command?): {text}");
    }

    /// <summary>Throws unless the image can be made again from its parameters alone (not an edit or an outpainting).</summary>
    public ImageParameters Reproducible(string file)
    {
        if (Job.Source is not null || Init is not null)
            throw new ArgumentException($"{file} was made from another canvas ({(Job.Source is not null ? $"an edit of job {Job.Source}" : $"an outpainting of {Init}")}): its parameters alone " +
                $"cannot make it again");
        return this;
    }
}
