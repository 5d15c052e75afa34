using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>How images are fed to a feature network: the network's own convention, stated by the user.</summary>
/// <param name="Size">Images are resized (bilinear) to this many px a side first; 0 keeps their size.
/// 299 is Inception's.</param>
/// <param name="Low">The value black is given as.</param>
/// <param name="High">The value white is given as: 0..255 for the widely used TorchScript Inception
/// (inception-2015-12-05.pt), -1..1 or 0..1 for others.</param>
/// <param name="Named">Named arguments of its forward, e.g. return_features = true.</param>
/// <param name="Batch">Images per forward pass.</param>
public sealed record FeatureInput(int Size = 299, double Low = 0, double High = 255, IReadOnlyDictionary<string, object>? Named = null, int Batch = 32);

/// <summary>
/// A feature network given as a TorchScript file (torch.jit.save): FID, KID and precision/recall are computed
/// in its feature space. Pretrained weights cannot be downloaded here, so the network is the user's file; its
/// forward returns (N, ...) features, flattened to (N, D).
/// </summary>
public sealed class FeatureNetwork : IDisposable
{
    private readonly ScriptModule _module;
    private readonly FeatureInput _input;
    private readonly Device _device;

    private FeatureNetwork(ScriptModule module, FeatureInput input, Device device) => (_module, _input, _device) = (module, input, device);

    public string Path { get; private init; } = "";

    public static FeatureNetwork Load(string path, FeatureInput input, Device device)
    {
        if (input.Size < 0 || input.Batch < 1 || input.High == input.Low) throw new ArgumentException("feature input: size >= 0, batch >= 1 and a range of two different values");
        try
        {
            return new FeatureNetwork(jit.load(path, device), input, device) { Path = path };
        }
        catch (TorchException e)
        {
            throw new ArgumentException($"{path}: not a TorchScript file (a network saved with torch.jit.save): {e.Message.Split('\n')[0]}", e);
        }
    }

    /// <summary>(N, D) float64 features on the CPU of (N, 3, H, W) images with values in [0, 1].</summary>
    public Tensor Features(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rows = new List<Tensor>();
        for (long start = 0; start < images.size(0); start += _input.Batch)
        {
            using var batch = NewDisposeScope();
            var x = images.narrow(0, start, Math.Min(_input.Batch, images.size(0) - start)).to(_device).to(float32);
            if (_input.Size > 0 && (x.size(2) != _input.Size || x.size(3) != _input.Size))
                x = F.interpolate(x, [_input.Size, _input.Size], mode: "bilinear", align_corners: false);
            x = x * (_input.High - _input.Low) + _input.Low;
            Tensor y;
            try { y = _module.forward(x, _input.Named); }
            catch (TorchException e) { throw new ArgumentException($"{Path}: its forward failed on {x.size(0)}x3x{x.size(2)}x{x.size(3)} images: {e.Message.Split('\n')[0]}", e); }
            if (y.dim() == 1) y = y.unsqueeze(1);
            if (y.dim() < 1 || y.size(0) != x.size(0)) throw new ArgumentException($"{Path}: its forward returned [{string.Join(", ", y.shape)}], not one feature row per image");
            rows.Add(y.flatten(1).to(float64).cpu().MoveToOuterDisposeScope());
        }
        return cat(rows, 0).MoveToOuterDisposeScope();
    }

    public void Dispose() => _module.Dispose();
}
