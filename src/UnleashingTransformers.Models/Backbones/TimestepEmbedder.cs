using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>The time embedding of DiT and UViT: sinusoidal features of the time, then Linear, SiLU, Linear (mlp.0, mlp.2).</summary>
public sealed class TimestepEmbedder : nn.Module<Tensor, Tensor>
{
    public readonly nn.Sequential mlp;

    /// <summary>Sinusoidal features of the time, as DiT's TimestepEmbedder.</summary>
    public const int FrequencyDim = 256;

    public TimestepEmbedder(int emb) =>
        mlp = register_module("mlp", new nn.Sequential(new nn.Linear(FrequencyDim, emb), new nn.SiLU(), new nn.Linear(emb, emb)));

    /// <summary>cos and sin of t at FrequencyDim / 2 geometric frequencies from 1 to 1/10000, (B, FrequencyDim).</summary>
    public static Tensor Sinusoid(Tensor t)
    {
        const int Half = FrequencyDim / 2;
        var freqs = (arange(Half, float32, t.device) * (-Math.Log(10000) / Half)).exp();
        var args = t.to(float32).unsqueeze(1) * freqs.unsqueeze(0);
        return cat(new[] { args.cos(), args.sin() }, -1);
    }

    public override Tensor forward(Tensor t) => mlp.forward(Sinusoid(t));
}
