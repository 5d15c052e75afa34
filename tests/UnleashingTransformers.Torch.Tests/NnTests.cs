using UnleashingTransformers.Torch.Serialization;
using Xunit;
using F = UnleashingTransformers.Torch.torch.nn.functional;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

/// <summary>The module of make_fixtures.py, written the same way in C#.</summary>
internal sealed class Tiny : nn.Module<Tensor, Tensor>
{
    public readonly nn.Linear proj;
    public readonly nn.LayerNorm norm;
    public readonly nn.BatchNorm2d bn;
    public readonly nn.ModuleList<nn.Linear> blocks;

    public Tiny()
    {
        proj = register_module("proj", new nn.Linear(4, 3));
        norm = register_module("norm", new nn.LayerNorm(3));
        bn = register_module("bn", new nn.BatchNorm2d(2));
        blocks = register_module("blocks", new nn.ModuleList<nn.Linear>(new[] { new nn.Linear(3, 3, false), new nn.Linear(3, 3, false) }));
    }

    public override Tensor forward(Tensor x)
    {
        var h = norm.forward(proj.forward(x));
        foreach (var b in blocks) h = b.forward(h);
        return h;
    }
}

public class NnTests
{
    [Fact]
    public void StateDictKeysFollowPyTorchNaming()
    {
        using var m = new Tiny();
        var expected = Fixtures.Expected.GetProperty("state_dict").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(expected, m.state_dict().Keys.ToArray());
        Assert.Equal(new[] { "proj.weight", "proj.bias", "norm.weight", "norm.bias", "bn.weight", "bn.bias", "blocks.0.weight", "blocks.1.weight" },
            m.named_parameters().Select(p => p.name).ToArray());
        Assert.Equal(new[] { "bn.running_mean", "bn.running_var", "bn.num_batches_tracked" }, m.named_buffers().Select(b => b.name).ToArray());
        Assert.Equal(4 * 3 + 3 + 3 + 3 + 2 + 2 + 9 + 9, m.parameter_count());
    }

    [Fact]
    public void LoadsAPyTorchStateDictAndRoundTripsItsOwn()
    {
        using var scope = NewDisposeScope();
        using var m = new Tiny();
        var sd = load_state_dict(Fixtures.PathOf("state_dict.pt"));
        m.load_state_dict(sd);
        foreach (var p in Fixtures.Expected.GetProperty("state_dict").EnumerateObject())
        {
            var mine = m.state_dict()[p.Name];
            Assert.Equal(p.Value.GetProperty("shape").Longs(), mine.shape);
            Fixtures.Close(p.Value.GetProperty("values").Doubles(), Fixtures.Values(mine), 0);
        }
        Assert.Equal(7L, m.bn.num_batches_tracked.item<long>());

        // Our own file, loaded into a fresh module, gives the same tensors.
        var path = Path.Combine(Path.GetTempPath(), $"ut-sd-{Guid.NewGuid():N}.pt");
        try
        {
            save(m.state_dict(), path);
            using var m2 = new Tiny();
            m2.load_state_dict(load_state_dict(path));
            foreach (var (k, v) in m.state_dict()) Assert.True(v.equal(m2.state_dict()[k]), k);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void StrictLoadNamesEveryMissingUnexpectedAndWrongShapedKey()
    {
        using var scope = NewDisposeScope();
        using var m = new Tiny();
        var sd = new OrderedDictionary<string, Tensor>(m.state_dict());
        sd.Remove("norm.bias");
        sd.Remove("blocks.1.weight");
        sd["extra.weight"] = zeros(2);
        sd["proj.weight"] = zeros(5, 4);
        var e = Assert.Throws<TorchException>(() => m.load_state_dict(sd));
        foreach (var word in new[] { "norm.bias", "blocks.1.weight", "extra.weight", "proj.weight: checkpoint [5, 4], model [3, 4]" })
            Assert.Contains(word, e.Message);

        // Non-strict: missing and unexpected keys are reported, matching ones loaded.
        sd["proj.weight"] = full(new long[] { 3, 4 }, 0.5);
        var (missing, unexpected) = m.load_state_dict(sd, strict: false);
        Assert.Equal(new[] { "norm.bias", "blocks.1.weight" }, missing);
        Assert.Equal(new[] { "extra.weight" }, unexpected);
        Assert.Equal(6f, m.proj.weight.sum().item<float>());
    }

    [Fact]
    public void ForwardOpsMatchPyTorch()
    {
        using var scope = NewDisposeScope();
        var inputs = (PyDict)load(Fixtures.PathOf("forward_inputs.pt"))!;
        Tensor T(string k) => (Tensor)inputs[k]!;
        var exp = Fixtures.Expected.GetProperty("forward");
        var y = F.log_softmax(F.layer_norm(F.gelu(F.linear(T("x"), T("w"), T("b"))), new long[] { 6 }), -1);
        Assert.Equal(exp.GetProperty("y_shape").Longs(), y.shape);
        Fixtures.Close(exp.GetProperty("y").Doubles(), Fixtures.Values(y), 1e-5);
        var conv = F.conv2d(T("img"), T("cw"), T("cb"), padding: new long[] { 1, 1 });
        var z = F.interpolate(F.group_norm(conv, 2, eps: 1e-6), scale_factor: new[] { 2.0, 2.0 });
        Assert.Equal(exp.GetProperty("z_shape").Longs(), z.shape);
        Fixtures.Close(exp.GetProperty("z").Doubles(), Fixtures.Values(z), 1e-5);
    }

    [Fact]
    public void FunctionalLossesAndNormsAgainstHandComputation()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, 0, 0, 0, 3, 0 }, 2, 3);
        var target = tensor(new long[] { 0, 2 });
        var lse0 = Math.Log(Math.Exp(2) + 2);
        var lse1 = Math.Log(Math.Exp(3) + 2);
        var ce = F.cross_entropy(logits, target, reduction: nn.Reduction.None).ToArray<float>();
        Assert.Equal(lse0 - 2, ce[0], 5);
        Assert.Equal(lse1, ce[1], 5);
        Assert.Equal((lse0 - 2 + lse1) / 2, F.cross_entropy(logits, target).item<float>(), 5);
        Assert.Equal(lse0 - 2, F.cross_entropy(logits, tensor(new long[] { 0, -100 })).item<float>(), 5);
        Assert.Equal(lse0 - 2 + lse1, F.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>(), 5);
        var a = tensor(new float[] { 1, 2, 3 });
        var b = tensor(new float[] { 2, 2, 5 });
        Assert.Equal(5 / 3f, F.mse_loss(a, b).item<float>(), 5);
        Assert.Equal(1f, F.l1_loss(a, b).item<float>(), 5);
        Assert.Equal(new float[] { 0, 0, 0 }, F.relu(-a).ToArray<float>());
        Assert.Equal(new float[] { -0.2f, 2 }, F.leaky_relu(tensor(new float[] { -1, 2 }), 0.2).ToArray<float>());
        Assert.Equal(1 * 0.5 * (1 + Erf(1 / Math.Sqrt(2))), F.gelu(tensor(new double[] { 1 })).item<double>(), 12);
        Assert.Equal(2 / (1 + Math.Exp(-2)), F.silu(tensor(new double[] { 2 })).item<double>(), 12);
        var img = arange(16, float32).view(1, 1, 4, 4);
        Assert.Equal(new float[] { 2.5f, 4.5f, 10.5f, 12.5f }, F.avg_pool2d(img, new long[] { 2, 2 }).ToArray<float>());
        Assert.Equal(new float[] { 5, 7, 13, 15 }, F.max_pool2d(img, new long[] { 2, 2 }).ToArray<float>());
        Assert.Equal(new long[] { 1, 1, 8, 8 }, F.interpolate(img, size: new long[] { 8, 8 }, mode: "bilinear").shape);
        // Batch norm: train mode normalises by batch statistics and updates running ones.
        using var bn = new nn.BatchNorm2d(1);
        var x = tensor(new float[] { 1, 3 }, 2, 1, 1, 1);
        Assert.Equal(new float[] { -1, 1 }, bn.forward(x).ToArray<float>().Select(v => MathF.Round(v, 3)).ToArray());
        Assert.Equal(0.2f, bn.running_mean.item<float>(), 5);
        Assert.Equal(0.9f + 0.1f * 2, bn.running_var.item<float>(), 5);
        bn.eval();
        Assert.Equal((1 - 0.2f) / MathF.Sqrt(1.1f + 1e-5f), bn.forward(x)[0].item<float>(), 5);
        // Dropout: identity in eval, zeroes about p in training and rescales the rest.
        var ones_ = ones(10000);
        var d = F.dropout(ones_, 0.3, training: true);
        Assert.InRange(d.eq(0).sum().item<long>(), 2700, 3300);
        Assert.Equal(1 / 0.7f, d.max().item<float>(), 4);
        Assert.True(F.dropout(ones_, 0.3, training: false).equal(ones_));
    }

    private static double Erf(double x)
    {
        // Abramowitz-Stegun 7.1.26 is too coarse for 1e-12; integrate exp(-t^2) with Simpson's rule.
        const int n = 20000;
        double h = x / n, s = 1 + Math.Exp(-x * x);
        for (var i = 1; i < n; i++) s += (i % 2 == 1 ? 4 : 2) * Math.Exp(-(i * h) * (i * h));
        return 2 / Math.Sqrt(Math.PI) * s * h / 3;
    }

    [Fact]
    public void ModuleConveniences()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var seq = new nn.Sequential(new nn.Linear(3, 4), new nn.GELU(), new nn.Dropout(0.1), new nn.Linear(4, 2));
        Assert.Equal(new[] { "0.weight", "0.bias", "3.weight", "3.bias" }, seq.state_dict().Keys.ToArray());
        seq.eval();
        Assert.False(seq[2].training);
        var x = randn(5, 3);
        Assert.True(seq.forward(x).equal(seq.forward(x)));
        seq.to(float64);
        Assert.Equal(float64, seq.parameters().First().dtype);
        Assert.Equal(float64, seq.forward(x.@double()).dtype);
        // Same seed, same initialisation.
        manual_seed(5);
        using var again = new nn.Sequential(new nn.Linear(3, 4), new nn.GELU(), new nn.Dropout(0.1), new nn.Linear(4, 2));
        Assert.True(again.state_dict()["0.weight"].@double().equal(seq.state_dict()["0.weight"]));
        // PyTorch's default init bound for Linear is 1/sqrt(fan_in).
        using var big = new nn.Linear(400, 300);
        Assert.InRange(big.weight.abs().max().item<float>(), 0.04f, 0.05f);
        Assert.Throws<ArgumentException>(() => new nn.GroupNorm(3, 8));
    }

    [Fact]
    public void SmallMlpLearnsAToyRegressionWithAdamW()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var g = new Generator(1);
        var x = rand(new long[] { 256, 2 }, g) * 4 - 2;
        var y = (x[.., 0] * x[.., 1]).sin().unsqueeze(1) + x[.., 0..1] * 0.5;
        using var model = new nn.Sequential(new nn.Linear(2, 32), new nn.GELU(), new nn.Linear(32, 32), new nn.GELU(), new nn.Linear(32, 1));
        using var opt = new optim.AdamW(model.parameters(), lr: 1e-2);
        double first = 0, last = 0;
        for (var step = 0; step < 400; step++)
        {
            using var s = NewDisposeScope();
            opt.zero_grad();
            var loss = F.mse_loss(model.forward(x), y);
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            opt.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < 0.02, $"loss after training {last} (first {first})");
        Assert.True(last < first / 10);
    }
}

public class MoreOpsAgainstPyTorchTests
{
    [Fact]
    public void ConvEmbeddingBilinearBatchNormAndCrossEntropyMatchPyTorch()
    {
        using var scope = NewDisposeScope();
        var inputs = (PyDict)load(Fixtures.PathOf("more_inputs.pt"))!;
        Tensor T(string k) => (Tensor)inputs[k]!;
        var exp = Fixtures.Expected.GetProperty("more");
        void Check(string name, Tensor actual, double tol)
        {
            Assert.Equal(exp.GetProperty(name).GetProperty("shape").Longs(), actual.shape);
            Fixtures.Close(exp.GetProperty(name).GetProperty("values").Doubles(), Fixtures.Values(actual), tol);
        }
        Check("conv", F.conv2d(T("cimg"), T("gw"), T("gb"), stride: new long[] { 2, 2 }, padding: new long[] { 2, 2 },
            dilation: new long[] { 2, 2 }, groups: 2), 1e-5);
        Check("emb", F.embedding(T("ids"), T("emb_w")), 0);
        Check("bil", F.interpolate(T("cimg"), size: new long[] { 5, 7 }, mode: "bilinear"), 1e-6);
        var rm = zeros(4);
        var rv = ones(4);
        Check("bn", F.batch_norm(T("cimg"), rm, rv, T("bn_w"), T("bn_b"), training: true), 1e-5);
        Check("rm", rm, 1e-6);
        Check("rv", rv, 1e-6);
        Check("ce", F.cross_entropy(T("logits"), T("labels")), 1e-6);
        // The same through modules.
        using var e = new nn.Embedding(10, 3);
        e.load_state_dict(new Dictionary<string, Tensor> { ["weight"] = T("emb_w") });
        Check("emb", e.forward(T("ids")), 0);
    }
}
