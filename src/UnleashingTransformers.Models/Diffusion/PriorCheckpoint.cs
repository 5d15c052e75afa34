using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Diffusion;

/// <summary>Loading absorbing priors from reference-format files (absorbing_*.th, ours or the paper's).</summary>
public static class PriorCheckpoint
{
    public const string Prefix = "_denoise_fn.";

    /// <summary>The head count of the paper's priors, which do not record it.</summary>
    public const int ReferenceHeads = 8;

    /// <summary>Where our files record the head count: the denoiser's entry of the state dict's
    /// <c>_metadata</c>, beside PyTorch's own "version" (torch.load and load_state_dict ignore it).</summary>
    private const string HeadsKey = "n_head";

    /// <summary>
    /// Loads a prior, reading its architecture from the tensors' shapes and the head count from the file
    /// when it records it (ours do), else <paramref name="heads"/>, else the reference's 8. Heads given that
    /// contradict the file, or a file that is not a prior or does not fit, is one clear error.
    /// </summary>
    public static AbsorbingDiffusion Load(string path, int? heads = null, Device? device = null) =>
        Checkpoints.FromFile(path, (sd, metadata) => FromStateDict(sd, Heads(path, heads, metadata), device, path, DenoiserEntry(metadata)));

    private static PyDict? DenoiserEntry(PyDict? metadata) => metadata?.GetValueOrDefault(Prefix.TrimEnd('.')) as PyDict;

    /// <summary>A state dict to save with its head count and backbone recorded (see <see cref="Load"/>).</summary>
    public static PyDict Recorded(OrderedDictionary<string, Tensor> sd, PriorNetwork network)
    {
        var file = new PyDict { IsOrderedDict = true };
        foreach (var (k, v) in sd) file[k] = v;
        var denoiser = new PyDict { ["version"] = 1L, [HeadsKey] = (long)network.Config.Heads };
        PriorNetworks.Record(network, denoiser);
        file.Attributes["_metadata"] = new PyDict { IsOrderedDict = true, [""] = new PyDict { ["version"] = 1L }, [Prefix.TrimEnd('.')] = denoiser };
        return file;
    }

    private static int Heads(string path, int? asked, PyDict? metadata)
    {
        if (asked < 1) throw new ArgumentException($"{path}: a head count of {asked}: it must be >= 1");
        var recorded = DenoiserEntry(metadata)?.GetValueOrDefault(HeadsKey) as long?;
        if (recorded is { } r && asked is { } a && a != r)
            throw new ArgumentException($"{path} records {r} attention heads, not the {a} given: leave the head count out (it is read from the file)");
        return (int?)recorded ?? asked ?? ReferenceHeads;
    }

    public static AbsorbingDiffusion FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, Device? device = null, string source = "state dict", PyDict? denoiserEntry = null)
    {
        var denoiser = sd.Where(kv => kv.Key.StartsWith(Prefix)).ToDictionary(kv => kv.Key[Prefix.Length..], kv => kv.Value);
        // Other projects' files may hold their network's state dict bare (SUNDAE-VQGAN's, NAT Diffuser's
        // Transformer.state_dict()): no prefix, no bookkeeping buffers; the backbone that recognizes them reads them.
        var bare = denoiser.Count == 0 && PriorNetworks.Recognized(sd) is not null;
        if (bare) denoiser = sd.ToDictionary();
        if (denoiser.Count == 0)
            throw new ArgumentException($"{source}: not an absorbing-diffusion prior (no '{Prefix}*' keys; {Checkpoints.Found(sd)})");
        PriorNetwork network;
        try
        {
            network = PriorNetworks.FromStateDict(denoiser, heads, denoiserEntry);
        }
        catch (SettingException e)
        {
            throw e.In(source);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{source}: {e.Message}");
        }
        var timesteps = sd.TryGetValue("Lt_history", out var lt) ? (int)lt.size(0) - 1 : 256;
        return Checkpoints.Fill(new AbsorbingDiffusion(network, Math.Max(1, timesteps)), m => m.load_reference_state(bare ? Completed(m, denoiser) : sd), source, device);
    }

    /// <summary>A fresh model's state with a bare network state dict put in place: what the file lacks (the bookkeeping
    /// buffers, fixed rotary frequencies some versions do not save) stays as built.</summary>
    private static Dictionary<string, Tensor> Completed(AbsorbingDiffusion model, IReadOnlyDictionary<string, Tensor> network)
    {
        var full = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (k, v) in network) full[Prefix + k] = v;
        return full;
    }
}
