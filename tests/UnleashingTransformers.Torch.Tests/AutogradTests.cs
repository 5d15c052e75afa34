using Xunit;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Torch.Tests;

public class AutogradTests
{
    // A function touching many differentiable ops: linear, gelu, layer norm, softmax, conv, group norm.
    private static Tensor Function(Tensor x, Tensor w)
    {
        var h = F.gelu(F.linear(x, w));
        h = F.layer_norm(h, new long[] { 4 });
        var img = h.view(1, 1, 3, 4);
        var c = F.conv2d(img, torch.ones(new long[] { 2, 1, 3, 3 }, x.dtype) * 0.1, padding: new long[] { 1, 1 });
        c = F.group_norm(c, 2, eps: 1e-6) * torch.arange(24, ScalarType.Float64).view(1, 2, 3, 4).to(x.dtype) * 0.01;
        return (h.softmax(-1) * h).sum() + c.sum() + F.silu(h).pow(2).mean();
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(11);
        var x = torch.randn(new long[] { 3, 5 }, g, ScalarType.Float64);
        var w = torch.randn(new long[] { 4, 5 }, g, ScalarType.Float64).requires_grad_();
        Function(x, w).backward();
        var analytic = w.grad!.ToArray<double>();

        const double h = 1e-6;
        var flat = w.detach().flatten().ToArray<double>();
        for (var i = 0; i < flat.Length; i++)
        {
            double Eval(double delta)
            {
                var p = (double[])flat.Clone();
                p[i] += delta;
                using var s = torch.NewDisposeScope();
                return Function(x, torch.tensor(p, 4, 5)).item<double>();
            }
            var numeric = (Eval(h) - Eval(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) < 1e-5, $"d/dw[{i}]: finite difference {numeric}, autograd {analytic[i]}");
        }
    }

    [Fact]
    public void AutogradGradGivesGradientsWithoutTouchingDotGrad()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new double[] { 1, 2, 3 }).requires_grad_();
        var b = torch.tensor(new double[] { 4, 5, 6 }).requires_grad_();
        var unused = torch.tensor(new double[] { 1 }).requires_grad_();
        var loss1 = (a * a).sum();          // d/da = 2a
        var loss2 = (a * b).sum();          // d/db = a
        var ga = torch.autograd.grad(new[] { loss1 }, new[] { a }, retain_graph: true)[0]!;
        Assert.Equal(new double[] { 2, 4, 6 }, ga.ToArray<double>());
        var gb = torch.autograd.grad(new[] { loss2 }, new[] { b, unused }, allow_unused: true);
        Assert.Equal(new double[] { 1, 2, 3 }, gb[0]!.ToArray<double>());
        Assert.Null(gb[1]);
        Assert.Null(a.grad);
        Assert.Null(b.grad);
        // Unused input without allow_unused is a libtorch error, not a crash.
        Assert.Throws<TorchException>(() => torch.autograd.grad(new[] { (b * 2).sum() }, new[] { unused }));
        // The VQ-GAN's adaptive weight: the ratio of two gradient norms at one layer.
        var w = torch.tensor(new double[] { 0.5, -1 }).requires_grad_();
        var x = torch.tensor(new double[] { 2, 3 });
        var nll = (w * x).abs().sum();
        var gan = -(w * w).sum();
        var gn = torch.autograd.grad(new[] { nll }, new[] { w }, retain_graph: true)[0]!;
        var gg = torch.autograd.grad(new[] { gan }, new[] { w }, retain_graph: true)[0]!;
        Assert.Equal(Math.Sqrt(13) / Math.Sqrt(5), (gn.norm() / gg.norm()).item<double>(), 10);
        // Gradient of a gradient (create_graph).
        var y = torch.tensor(new double[] { 3 }).requires_grad_();
        var dy = torch.autograd.grad(new[] { y.pow(3).sum() }, new[] { y }, create_graph: true)[0]!;
        var d2y = torch.autograd.grad(new[] { dy.sum() }, new[] { y })[0]!;
        Assert.Equal(18.0, d2y.item<double>(), 10);
    }

    [Fact]
    public void BackwardWithGradientAccumulatesAndNoGradRecordsNothing()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2 }).requires_grad_();
        var y = a * 3;
        y.backward(torch.tensor(new float[] { 1, 10 }), retain_graph: true);
        Assert.Equal(new float[] { 3, 30 }, a.grad!.ToArray<float>());
        y.backward(torch.tensor(new float[] { 1, 1 }));
        Assert.Equal(new float[] { 6, 33 }, a.grad!.ToArray<float>());
        a.grad = null;
        Assert.Null(a.grad);
        Assert.True(a.is_leaf);
        Assert.False(y.is_leaf);

        using (torch.no_grad())
        {
            Assert.False(torch.is_grad_enabled());
            var z = a * 2;
            Assert.False(z.requires_grad);
            using (torch.enable_grad()) Assert.True((a * 2).requires_grad);
        }
        Assert.True(torch.is_grad_enabled());
        Assert.False(a.detach().requires_grad);
    }
}
