using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Transformer;

/// <summary>
/// The pre-LN residual pair that the transformer's, UViT's and NAT's blocks run, written once:
/// x + attn(ln1(x)), then x + mlp(ln2(x)). The blocks keep their own modules because they register them in different
/// orders (the transformer ln1, ln2, attn, mlp as the reference does; UViT and NAT ln1, attn, ln2, mlp), and a resumed
/// run's Adam state is matched to the parameters by that order.
/// </summary>
public static class PreLayerNorm
{
    /// <param name="attention">The block's attention over an already normalized input (its own extra arguments bound).</param>
    public static Tensor Residual(Tensor x, nn.LayerNorm ln1, Func<Tensor, Tensor> attention, nn.LayerNorm ln2, nn.Module<Tensor, Tensor> mlp)
    {
        x = x + attention(ln1.forward(x));
        return x + mlp.forward(ln2.forward(x));
    }
}
