using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// LPIPS with VGG16 features (the perceptual loss of the reference's VQ-GAN training): inputs are shifted
/// and scaled, VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 are unit-normalised over
/// channels, their squared differences weighted by 1x1 "lin" layers, averaged over space and summed.
/// The reference feeds [0, 1] images without the [-1, 1] conversion LPIPS expects; so does this.
/// Its pretrained weights cannot be downloaded here: they load from a file with the lpips package's keys,
/// bare or under <c>perceptual.</c> as every reference VQ-GAN checkpoint carries them.
/// </summary>
public sealed class Lpips : nn.Module<(Tensor a, Tensor b), Tensor>
{
    /// <summary>VGG16 feature layers (torchvision indices) in five slices.</summary>
    private static readonly (int from, int to)[] Slices = { (0, 3), (4, 8), (9, 15), (16, 22), (23, 29) };
    private static readonly int[] VggConvs = { 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 };
    private static readonly int[] VggPools = { 4, 9, 16, 23 };
    private static readonly long[] Widths = { 64, 128, 256, 512, 512 };

    private readonly ScalingLayer _scaling;
    private readonly List<nn.Sequential> _slices = new();
    private readonly List<nn.Module<Tensor, Tensor>> _lins = new();

    public Lpips()
    {
        _scaling = register_module("scaling_layer", new ScalingLayer());
        var net = register_module("net", new Container());
        long channels = 3;
        for (var s = 0; s < Slices.Length; s++)
        {
            var slice = new nn.Sequential();
            for (var i = Slices[s].from; i <= Slices[s].to; i++)
            {
                if (VggConvs.Contains(i))
                {
                    var outC = Widths[Array.FindLastIndex(Slices, sl => sl.from <= i)];
                    slice.append(i.ToString(), new nn.Conv2d(channels, outC, 3, padding: 1));
                    channels = outC;
                }
                else if (VggPools.Contains(i)) slice.append(i.ToString(), new MaxPool());
                else slice.append(i.ToString(), new nn.ReLU());
            }
            _slices.Add(net.Add($"slice{s + 1}", slice));
        }
        for (var k = 0; k < Widths.Length; k++)
        {
            var lin = new nn.Sequential();
            lin.append("0", new nn.Dropout(0));
            lin.append("1", new nn.Conv2d(Widths[k], 1, 1, hasBias: false));
            _lins.Add(register_module($"lin{k}", new LinLayer(lin)));
        }
        foreach (var p in parameters()) p.requires_grad = false;
    }

    public override Tensor forward((Tensor a, Tensor b) input)
    {
        using var scope = NewDisposeScope();
        Tensor[] Features(Tensor x)
        {
            var h = _scaling.forward(x);
            return _slices.Select(s => h = s.forward(h)).ToArray();
        }
        var fa = Features(input.a);
        var fb = Features(input.b);
        Tensor? total = null;
        for (var k = 0; k < fa.Length; k++)
        {
            var d = (Unit(fa[k]) - Unit(fb[k])).pow(2);
            var r = _lins[k].forward(d).mean(new long[] { 2, 3 }, keepdim: true);
            total = total is null ? r : total + r;
        }
        return total!.MoveToOuterDisposeScope();   // (B, 1, 1, 1)
    }

    public Tensor forward(Tensor a, Tensor b) => forward((a, b));

    private static Tensor Unit(Tensor x) => x / ((x.pow(2).sum(1, keepdim: true)).sqrt() + 1e-10);

    /// <summary>Loads LPIPS weights: lpips keys (scaling_layer.*, net.sliceK.N.*, linK.model.1.weight),
    /// bare or prefixed "perceptual." (a reference VQ-GAN checkpoint).</summary>
    public static Lpips Load(string path, Device? device = null) => Checkpoints.FromFile(path, sd =>
    {
        var prefix = sd.Keys.Any(k => k.StartsWith("perceptual.net.")) ? "perceptual." : "";
        var lpips = new Lpips();
        var wanted = lpips.state_dict().Keys.ToHashSet();
        var own = sd.Where(kv => kv.Key.StartsWith(prefix) && wanted.Contains(kv.Key[prefix.Length..]))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        if (own.Count == 0)
        {
            lpips.Dispose();
            throw new ArgumentException($"{path}: no LPIPS weights (keys like 'net.slice1.0.weight' or 'perceptual.net.slice1.0.weight'; {Checkpoints.Found(sd)})");
        }
        return Checkpoints.Fill(lpips, m => m.load_state_dict(own), path, device);
    });

    private sealed class ScalingLayer : nn.Module<Tensor, Tensor>
    {
        private readonly Tensor _shift, _scale;

        public ScalingLayer()
        {
            _shift = register_buffer("shift", tensor(new float[] { -.030f, -.088f, -.188f }, 1, 3, 1, 1));
            _scale = register_buffer("scale", tensor(new float[] { .458f, .448f, .450f }, 1, 3, 1, 1));
        }

        public override Tensor forward(Tensor x) => (x - _shift) / _scale;
    }

    private sealed class LinLayer : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Sequential _model;
        public LinLayer(nn.Sequential m) => _model = register_module("model", m);
        public override Tensor forward(Tensor x) => _model.forward(x);
    }

    private sealed class MaxPool : nn.Module<Tensor, Tensor>
    {
        public override Tensor forward(Tensor x) => F.max_pool2d(x, new long[] { 2, 2 });
    }

    private sealed class Container : nn.Module<Tensor, Tensor>
    {
        public T Add<T>(string name, T m) where T : nn.Module => register_module(name, m);
        public override Tensor forward(Tensor x) => throw new NotSupportedException();
    }
}
