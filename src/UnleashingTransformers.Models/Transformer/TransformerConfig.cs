using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.Transformer;

/// <summary>
/// The denoising transformer's hyperparameters; defaults are the reference's (hparams
/// sampler_defaults.py: bert_n_emb 512, bert_n_head 8, bert_n_layers 24, block_size 256, codebook 1024,
/// all dropouts 0). The mask token is id <see cref="CodebookSize"/>.
/// </summary>
public sealed record TransformerConfig(
    int CodebookSize = 1024,
    int Emb = 512,
    int Heads = 8,
    int Layers = 24,
    int BlockSize = 256,
    int MlpHidden = 0,
    double AttnPdrop = 0,
    double ResidPdrop = 0,
    double EmbdPdrop = 0)
{
    public int MaskId => CodebookSize;
    public int VocabSize => CodebookSize + 1;
    public int Hidden => MlpHidden > 0 ? MlpHidden : 4 * Emb;

    public void Validate()
    {
        if (CodebookSize < 2 || Emb < 1 || Layers < 1 || BlockSize < 1)
            throw new ArgumentException($"bad transformer config: {this}");
        if (Heads < 1 || Emb % Heads != 0)
            throw new SettingException(SettingNames.Heads, $"{Heads} does not divide the width {Emb}: pick a divisor of {Emb}");
    }

    /// <summary>
    /// Reads width, layers, block size, codebook size and MLP width from a denoiser state dict's
    /// shapes (keys without the <c>_denoise_fn.</c> prefix); the head count cannot be read and is given.
    /// </summary>
    public static TransformerConfig FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t
            : throw new ArgumentException($"not an absorbing-diffusion prior: key '{key}' missing");
        var tok = Need("tok_emb.weight").shape;
        var pos = Need("pos_emb").shape;
        var mlp = Need("blocks.0.mlp.0.weight").shape;
        var layers = 0;
        while (sd.ContainsKey($"blocks.{layers}.ln1.weight")) layers++;
        var config = new TransformerConfig(
            CodebookSize: (int)tok[0] - 1, Emb: (int)tok[1], Heads: heads, Layers: layers,
            BlockSize: (int)pos[1], MlpHidden: (int)mlp[0]);
        config.Validate();
        return config;
    }
}
