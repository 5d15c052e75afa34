using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Transformer;

/// <summary>The pre-LN blocks' MLP, written once: Linear(emb, hidden), GELU, Linear(hidden, emb), keys <c>mlp.0</c> and
/// <c>mlp.2</c> as the reference's; the transformer's ends in its residual Dropout (<c>mlp.3</c>, no weights).</summary>
public static class FeedForward
{
    /// <param name="gelu">GELU's approximation: "none" (exact; the reference transformer, UViT, NAT) or "tanh" (DiT's).</param>
    /// <param name="dropout">A Dropout of this probability after the second Linear (null: none).</param>
    public static nn.Sequential Of(TransformerConfig c, string gelu = "none", double? dropout = null)
    {
        var layers = new List<nn.Module<Tensor, Tensor>> { new nn.Linear(c.Emb, c.Hidden), new nn.GELU(gelu), new nn.Linear(c.Hidden, c.Emb) };
        if (dropout is { } p) layers.Add(new nn.Dropout(p));
        return new nn.Sequential([.. layers]);
    }
}
