using Xunit;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Torch.Tests;

public class OpsTests
{
    private static float[] A(Tensor t) => t.@float().ToArray<float>();

    [Fact]
    public void CreationFromArraysRoundTripsAndReportsShape()
    {
        using var scope = torch.NewDisposeScope();
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = torch.tensor(data, 2, 3);
        Assert.Equal(new long[] { 2, 3 }, t.shape);
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.Equal(data, t.ToArray<float>());
        Assert.Equal(new long[] { 3, 1 }, t.stride());
        // data<T>() is a view of the tensor's memory, not a copy.
        t.data<float>()[0] = 42;
        Assert.Equal(42f, t[0, 0].item<float>());
        Assert.Throws<TorchException>(() => torch.tensor(data, 4, 2));
        Assert.Throws<TorchException>(() => t.ToArray<long>());
    }

    [Fact]
    public void CreationFunctions()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(new float[] { 0, 0, 0 }, A(torch.zeros(3)));
        Assert.Equal(new float[] { 1, 1 }, A(torch.ones(2)));
        Assert.Equal(new float[] { 7, 7 }, A(torch.full(new long[] { 2 }, 7)));
        Assert.Equal(new long[] { 2, 4, 6 }, torch.arange(2, 8, 2).ToArray<long>());
        Assert.Equal(new float[] { 0, 0.25f, 0.5f, 0.75f, 1 }, A(torch.linspace(0, 1, 5)));
        Assert.Equal(ScalarType.Int64, torch.arange(5).dtype);
        Assert.Equal(ScalarType.Float32, torch.arange(0, 1, 0.5).dtype);
        var e = torch.empty(new long[] { 2, 2 }, ScalarType.Float16);
        Assert.Equal(ScalarType.Float16, e.dtype);
        var eye = torch.eye(3);
        Assert.Equal(3f, eye.sum().item<float>());

        var r = torch.rand(1000);
        Assert.True(r.min().item<float>() >= 0 && r.max().item<float>() < 1);
        Assert.InRange(r.mean().item<float>(), 0.45f, 0.55f);
        var n = torch.randn(4000);
        Assert.InRange(n.std().item<float>(), 0.9f, 1.1f);
        var ri = torch.randint(3, 6, new long[] { 500 });
        Assert.Equal(3L, ri.min().item<long>());
        Assert.Equal(5L, ri.max().item<long>());
        var perm = torch.randperm(10).sort().values;
        Assert.Equal(torch.arange(10).ToArray<long>(), perm.ToArray<long>());
    }

    [Fact]
    public void GeneratorsAndSeedsReproduceStreams()
    {
        using var scope = torch.NewDisposeScope();
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        Assert.Equal(A(torch.rand(new long[] { 5 }, g1)), A(torch.rand(new long[] { 5 }, g2)));
        // Saving and restoring the state replays the stream exactly.
        var state = g1.get_state();
        var first = A(torch.randn(new long[] { 4 }, g1));
        g1.set_state(state);
        Assert.Equal(first, A(torch.randn(new long[] { 4 }, g1)));
        Assert.NotEqual(first, A(torch.randn(new long[] { 4 }, g1)));

        torch.manual_seed(99);
        var a = A(torch.rand(6));
        torch.manual_seed(99);
        Assert.Equal(a, A(torch.rand(6)));
    }

    [Fact]
    public void MultinomialFollowsTheDistribution()
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(3);
        var probs = torch.tensor(new float[] { 0.1f, 0.0f, 0.9f }).expand(20000, 3).contiguous();
        var s = probs.multinomial(1, generator: g).flatten();
        var counts = torch.zeros(new long[] { 3 }, ScalarType.Int64).scatter_add(0, s, torch.ones_like(s)).ToArray<long>();
        Assert.Equal(0, counts[1]);
        Assert.InRange(counts[0] / 20000.0, 0.09, 0.11);
        // Without replacement every index appears once.
        var perm = torch.ones(1, 6).multinomial(6, false, g).sort().values;
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, perm.flatten().ToArray<long>());
    }

    [Fact]
    public void ArithmeticBroadcastsLikePyTorch()
    {
        using var scope = torch.NewDisposeScope();
        var col = torch.tensor(new float[] { 1, 2, 3 }, 3, 1);
        var row = torch.tensor(new float[] { 10, 20 }, 1, 2);
        var sum = col + row;
        Assert.Equal(new long[] { 3, 2 }, sum.shape);
        Assert.Equal(new float[] { 11, 21, 12, 22, 13, 23 }, A(sum));
        Assert.Equal(new float[] { 9, 19, 8, 18, 7, 17 }, A(row - col));
        Assert.Equal(new float[] { 10, 20, 20, 40, 30, 60 }, A(col * row));
        Assert.Equal(new float[] { 2, 4, 6 }, A(col * 2));
        Assert.Equal(new float[] { 0, -1, -2 }, A(1 - col));
        Assert.Equal(new float[] { 1, 0.5f, 1 / 3f }, A(1 / col));
        Assert.Equal(new float[] { 1, 4, 9 }, A(col.pow(2)));
        Assert.Equal(new float[] { 2, 4, 8 }, A(torch.pow(2, col)));
        Assert.Equal(new float[] { 1, 2, 2 }, A(col.clamp(max: 2)));
        Assert.Equal(new float[] { -1, 0, 1 }, A(torch.tensor(new float[] { -3, 0, 5 }).sign()));
        Assert.Equal(new float[] { 1, 2, 0 }, A(torch.tensor(new float[] { 4, 5, 6 }).remainder(3)));
        Assert.Equal(new float[] { 2, 3 }, A(torch.tensor(new float[] { 4, 9 }).sqrt()));
        Assert.Equal(2f, torch.tensor(new float[] { 1, 1 }).exp().log().sum().item<float>(), 5);
        var x = torch.tensor(new float[] { 1, 2 });
        x.add_(torch.tensor(new float[] { 1, 1 }), 3).mul_(2);
        Assert.Equal(new float[] { 8, 10 }, A(x));
        x.addcmul_(x, x, 0.5).addcdiv_(x, x, -1);
        Assert.Equal(new float[] { 39, 59 }, A(x));
        Assert.Equal(new float[] { 1, 2 }, A(torch.maximum(torch.tensor(new float[] { 1, -1 }), torch.tensor(new float[] { 0, 2 }))));
        var i = torch.tensor(new long[] { 7, -7 });
        Assert.Equal(new long[] { 3, -4 }, i.div(torch.tensor(new long[] { 2, 2 }), "floor").ToArray<long>());
    }

    [Fact]
    public void MatrixProducts()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var b = torch.tensor(new float[] { 1, 0, 0, 1, 1, 1 }, 3, 2);
        Assert.Equal(new float[] { 4, 5, 10, 11 }, A(a.matmul(b)));
        Assert.Equal(new float[] { 4, 5, 10, 11 }, A(a.mm(b)));
        var bias = torch.tensor(new float[] { 100, 200 });
        Assert.Equal(new float[] { 108, 210, 120, 222 }, A(bias.addmm(a, b, 1, 2)));
        var ba = a.unsqueeze(0).repeat(2, 1, 1);
        var bb = b.unsqueeze(0).repeat(2, 1, 1);
        Assert.Equal(new long[] { 2, 2, 2 }, ba.bmm(bb).shape);
        Assert.Equal(A(ba.bmm(bb)), A(torch.zeros(2, 2, 2).baddbmm(ba, bb)));
        Assert.Equal(new float[] { 4, 5, 10, 11 }, A(torch.einsum("ij,jk->ik", a, b)));
        // Batched matmul broadcasts a matrix over a batch.
        Assert.Equal(new long[] { 4, 2, 2 }, torch.randn(4, 2, 3).matmul(b).shape);
    }

    [Fact]
    public void Reductions()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.tensor(new float[] { 1, 5, 3, 4, 2, 6 }, 2, 3);
        Assert.Equal(21f, t.sum().item<float>());
        Assert.Equal(new float[] { 9, 12 }, A(t.sum(1)));
        Assert.Equal(new long[] { 2, 1 }, t.sum(1, keepdim: true).shape);
        Assert.Equal(3.5f, t.mean().item<float>());
        Assert.Equal(new float[] { 2.5f, 3.5f, 4.5f }, A(t.mean(0)));
        Assert.Equal(new float[] { 4.5f, 4.5f, 4.5f }, A(t.var(0)));
        Assert.Equal(new float[] { 2.25f, 2.25f, 2.25f }, A(t.var(0, unbiased: false)));
        Assert.Equal(new float[] { 2, 2 }, A(t.std(1)));
        Assert.Equal(6f, t.max().item<float>());
        var (values, indices) = t.max(1);
        Assert.Equal(new float[] { 5, 6 }, A(values));
        Assert.Equal(new long[] { 1, 2 }, indices.ToArray<long>());
        Assert.Equal(new long[] { 0, 1 }, t.min(1).indices.ToArray<long>());
        Assert.Equal(5L, t.argmax().item<long>());
        Assert.Equal(new long[] { 1, 0, 1 }, t.argmax(0).ToArray<long>());
        Assert.Equal(new long[] { 0, 1, 0 }, t.argmin(0).ToArray<long>());
        var lse = t.logsumexp(1).ToArray<float>();
        Assert.Equal(Math.Log(Math.Exp(1) + Math.Exp(5) + Math.Exp(3)), lse[0], 4);
        Assert.Equal(new float[] { 1, 6, 9, 4, 6, 12 }, A(t.cumsum(1)));
        var (tv, ti) = t.topk(2);
        Assert.Equal(new float[] { 5, 3, 6, 4 }, A(tv));
        Assert.Equal(new long[] { 1, 2, 2, 0 }, ti.ToArray<long>());
        Assert.Equal(new float[] { 5, 3, 1, 6, 4, 2 }, A(t.sort(descending: true).values));
        Assert.Equal(new long[] { 0, 2, 1, 1, 0, 2 }, t.argsort().ToArray<long>());
        Assert.Equal(120f, torch.arange(1, 6, 1, ScalarType.Float32).prod().item<float>());
        Assert.Equal(5f, torch.tensor(new float[] { 3, 4 }).norm().item<float>(), 5);
    }

    [Fact]
    public void ComparisonAndLogic()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3 });
        var b = torch.tensor(new float[] { 3, 2, 1 });
        bool[] B(Tensor t) => t.ToArray<bool>();
        Assert.Equal(new[] { false, true, false }, B(a.eq(b)));
        Assert.Equal(new[] { true, false, true }, B(a.ne(b)));
        Assert.Equal(new[] { true, false, false }, B(a < b));
        Assert.Equal(new[] { true, true, false }, B(a <= b));
        Assert.Equal(new[] { false, false, true }, B(a > 2));
        Assert.Equal(new[] { false, true, true }, B(a >= 2));
        Assert.Equal(new[] { false, false, false }, B((a > 2) & (a < 2)));
        Assert.Equal(new[] { true, false, true }, B((a > 2) | (a < 2)));
        Assert.Equal(new[] { false, true, false }, B(!((a > 2) | (a < 2))));
        Assert.Equal(new[] { true, false, true }, B((a > 2).logical_xor(a < 2)));
        var odd = torch.tensor(new float[] { 0, float.NaN, float.PositiveInfinity });
        Assert.Equal(new[] { false, true, false }, B(odd.isnan()));
        Assert.Equal(new[] { true, false, false }, B(odd.isfinite()));
        Assert.True((a > 0).all().item<bool>());
        Assert.False((a > 5).any().item<bool>());
        Assert.True(a.equal(a.clone()));
        Assert.False(a.equal(b));
        Assert.True(a.allclose(a + 1e-7));
        Assert.Equal(new float[] { 1, 2, 1 }, A(torch.where(a > 2, b, a)));
        Assert.Equal(new float[] { 1, 2, -1 }, A(torch.where(a <= 2, a, -1)));
    }

    [Fact]
    public void ShapeOperations()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.arange(6, ScalarType.Float32).view(2, 3);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, A(t.t().contiguous()));
        Assert.False(t.t().is_contiguous());
        Assert.Equal(new long[] { 3, 2 }, t.transpose(0, 1).shape);
        Assert.Equal(new long[] { 3, 1, 2 }, t.permute(1, 0).unsqueeze(1).shape);
        Assert.Equal(new long[] { 3, 2 }, t.permute(1, 0).unsqueeze(1).squeeze(1).shape);
        Assert.Equal(new long[] { 6 }, t.reshape(-1).shape);
        Assert.Equal(new long[] { 2, 3 }, t.unsqueeze(0).squeeze().shape);
        Assert.Equal(new long[] { 4, 2, 3 }, t.expand(4, 2, 3).shape);
        Assert.Equal(new float[] { 0, 1, 2, 0, 1, 2 }, A(t[0].repeat(2)));
        Assert.Equal(new float[] { 2, 1, 0, 5, 4, 3 }, A(t.flip(1)));
        Assert.Equal(new float[] { 1, 2, 4, 5 }, A(t.narrow(1, 1, 2)));
        Assert.Equal(new float[] { 3, 4, 5 }, A(t.select(0, 1)));
        Assert.Equal(new float[] { 0, 2, 3, 5 }, A(t.slice(1, 0, null, 2)));
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5 }, A(torch.cat(new[] { t, t }, 0)));
        Assert.Equal(new long[] { 2, 2, 3 }, torch.stack(new[] { t, t }).shape);
        Assert.Equal(new long[] { 2, 3, 2 }, torch.stack(new[] { t, t }, -1).shape);
        var idx = torch.tensor(new long[] { 2, 0 });
        Assert.Equal(new float[] { 2, 0, 5, 3 }, A(t.index_select(1, idx)));
        var g = torch.tensor(new long[] { 0, 0, 1, 2, 2, 2 }, 2, 3);
        Assert.Equal(new float[] { 0, 0, 1, 5, 5, 5 }, A(t.gather(1, g)));
        var sc = torch.zeros(2, 3).scatter(1, torch.tensor(new long[] { 2, 0 }, 2, 1), torch.ones(2, 1));
        Assert.Equal(new float[] { 0, 0, 1, 1, 0, 0 }, A(sc));
        Assert.Equal(new float[] { 0, 0, 9, 9, 0, 0 }, A(torch.zeros(2, 3).scatter(1, torch.tensor(new long[] { 2, 0 }, 2, 1), 9)));
        var mask = t > 3;
        Assert.Equal(new float[] { 0, 1, 2, 3, -1, -1 }, A(t.masked_fill(mask, -1)));
        Assert.Equal(new float[] { 4, 5 }, A(t.masked_select(mask)));
        Assert.Equal(new long[] { 2, 1 }, t.chunk(3, 1)[0].shape);
        Assert.Equal(3, t.chunk(3, 1).Length);
        Assert.Equal(new float[] { 1, 4 }, A(t.chunk(3, 1)[1]));
        Assert.Equal(new[] { 2L, 1L }, t.split(new long[] { 2, 1 }, 1).Select(x => x.size(1)).ToArray());
        Assert.Equal(new float[] { 3, 4, 5 }, A(t.unbind()[1]));
        Assert.Equal(new long[] { 2, 3 }, t.flatten().view(2, 3).shape);
        var oh = F.one_hot(torch.tensor(new long[] { 2, 0 }), 3);
        Assert.Equal(new long[] { 0, 0, 1, 1, 0, 0 }, oh.ToArray<long>());
        var p = F.pad(t.view(1, 1, 2, 3), new long[] { 0, 1, 0, 1 });
        Assert.Equal(new long[] { 1, 1, 3, 4 }, p.shape);
        Assert.Equal(new float[] { 0, 1, 2, 0, 3, 4, 5, 0, 0, 0, 0, 0 }, A(p));
        Assert.Equal(new float[] { 1, 0, 1, 2, 1, 4, 3, 4, 5, 4 }, A(F.pad(t.view(1, 1, 2, 3), new long[] { 1, 1, 0, 0 }, "reflect")));
        Assert.Equal(new float[] { 0, 0, 0, 3, 4, 0 }, A(t.tril()));
        Assert.Equal(new float[] { 0, 1, 2, 0, 0, 5 }, A(t.triu(1)));
        Assert.Equal(new float[] { 0, 4 }, A(t.as_strided(new long[] { 2 }, new long[] { 4 })));
    }

    [Fact]
    public void IndexingWithRangesEllipsisNoneAndTensors()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.arange(24, ScalarType.Float32).view(2, 3, 4);
        Assert.Equal(new long[] { 3, 4 }, t[1].shape);
        Assert.Equal(23f, t[1, 2, 3].item<float>());
        Assert.Equal(23f, t[-1, -1, -1].item<float>());
        Assert.Equal(new long[] { 2, 2, 4 }, t[.., 1..3].shape);
        Assert.Equal(new float[] { 3, 7, 11, 15, 19, 23 }, A(t[TensorIndex.Ellipsis, 3]));
        Assert.Equal(new long[] { 2, 1, 3, 4 }, t[.., TensorIndex.None].shape);
        Assert.Equal(new float[] { 0, 2 }, A(t[0, 0, TensorIndex.Slice(0, 4, 2)]));
        Assert.Equal(new float[] { 4, 5, 6 }, A(t[0, 1, ..^1]));
        var rows = torch.tensor(new long[] { 2, 0 });
        Assert.Equal(new float[] { 8, 0 }, A(t[0, rows, 0]));
        Assert.Equal(new long[] { 2, 2, 4 }, t[.., rows].shape);
        // Assignment through a view writes into the tensor.
        t[0, 0] = torch.full(new long[] { 4 }, -1);
        Assert.Equal(-4f, t[0, 0].sum().item<float>());
        t[1, rows, 0] = torch.tensor(new float[] { 100, 200 });
        Assert.Equal(100f, t[1, 2, 0].item<float>());
        Assert.Equal(200f, t[1, 0, 0].item<float>());
        Assert.Throws<TorchException>(() => t[0, 0, 0, 0]);
    }

    [Fact]
    public void ConversionsBetweenDtypes()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.tensor(new float[] { 1.5f, -2.25f, 3 });
        Assert.Equal(ScalarType.Float16, t.half().dtype);
        Assert.Equal(A(t), A(t.half()));
        Assert.Equal(A(t), A(t.bfloat16()));
        Assert.Equal(new long[] { 1, -2, 3 }, t.@long().ToArray<long>());
        Assert.Equal(new[] { true, true, true }, t.@bool().ToArray<bool>());
        Assert.Equal(new double[] { 1.5, -2.25, 3 }, t.@double().ToArray<double>());
        Assert.Equal(new byte[] { 1, 3 }, torch.tensor(new float[] { 1.5f, 3 }).to(ScalarType.Byte).ToArray<byte>());
        Assert.Equal(new Half[] { (Half)1.5f, (Half)(-2.25f), (Half)3f }, t.half().ToArray<Half>());
        var c = t.cpu();
        Assert.Equal(Device.CPU, c.device);
        Assert.Equal("cuda:1", Device.Parse("CUDA:1").ToString());
        Assert.Throws<TorchException>(() => Device.Parse("tpu"));
    }

    [Fact]
    public void LibtorchErrorsBecomeExceptionsAndTheProcessGoesOn()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.ones(2, 3);
        var b = torch.ones(4, 5);
        var e = Assert.Throws<TorchException>(() => a.matmul(b));
        Assert.Contains("shapes cannot be multiplied", e.Message);
        e = Assert.Throws<TorchException>(() => a.view(7));
        Assert.Contains("invalid for input of size 6", e.Message);
        e = Assert.Throws<TorchException>(() => a + torch.ones(3, 2));
        Assert.Contains("must match the size", e.Message);
        if (!torch.cuda.is_available())
            Assert.Throws<TorchException>(() => a.to(new Device(DeviceType.CUDA, 0)));
        // After the errors the library still works on this thread.
        Assert.Equal(6f, a.sum().item<float>());
        // A disposed tensor is an ObjectDisposedException, not a crash, and does not jam later calls.
        var d = torch.ones(2);
        d.Dispose();
        Assert.Throws<ObjectDisposedException>(() => d + a);
        Assert.Equal(6f, (a * 1).sum().item<float>());
    }

    [Fact]
    public void ThreadsCanBeSet()
    {
        var before = torch.get_num_threads();
        torch.set_num_threads(1);
        Assert.Equal(1, torch.get_num_threads());
        torch.set_num_threads(before);
        Assert.Equal(before, torch.get_num_threads());
        Assert.StartsWith("1.", torch.version);
    }
}
