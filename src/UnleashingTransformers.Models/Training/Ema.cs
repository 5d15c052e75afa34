using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Training;

/// <summary>
/// The reference's EMA (utils/train_utils.py): ema = decay·ema + (1 − decay)·model, over parameters
/// only (buffers are not averaged), applied every few steps by the trainer. Frozen parameters (no gradient) are
/// left as they are: d·a + (1 − d)·a is not always a in floating point, and a frozen encoder must keep its bits.
/// </summary>
public static class Ema
{
    public static void Update(nn.Module ema, nn.Module model, double decay)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var target = ema.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in model.named_parameters())
            if (p.requires_grad) target[name].mul_(decay).add_(p, 1 - decay);
    }
}
