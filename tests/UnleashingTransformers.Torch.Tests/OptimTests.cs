using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

public class OptimTests
{
    private static Tensor Loss(Parameter p, double target, int i) => (p - target).pow(2).sum() * (i + 1);

    [Fact]
    public void AdamMatchesPyTorchStepForStep()
    {
        using var scope = NewDisposeScope();
        var exp = Fixtures.Expected.GetProperty("adam");
        var p = new Parameter(tensor(exp.GetProperty("start").Doubles().Select(v => (float)v).ToArray()));
        using var opt = new optim.Adam(new[] { p }, lr: exp.GetProperty("lr").GetDouble(), weight_decay: exp.GetProperty("weight_decay").GetDouble());
        for (var i = 0; i < 3; i++)
        {
            opt.zero_grad();
            Loss(p, exp.GetProperty("target").GetDouble(), i).backward();
            opt.step();
        }
        // Same float32 operations in the same order: equal to the last bit.
        Assert.Equal(exp.GetProperty("after").Doubles().Select(v => (float)v).ToArray(), p.ToArray<float>());
    }

    [Fact]
    public void LoadsPyTorchsAdamStateAndContinuesAsPyTorchWould()
    {
        using var scope = NewDisposeScope();
        var exp = Fixtures.Expected.GetProperty("adam");
        var p = new Parameter(tensor(exp.GetProperty("after").Doubles().Select(v => (float)v).ToArray()));
        using var opt = new optim.Adam(new[] { p }, lr: 1, weight_decay: exp.GetProperty("weight_decay").GetDouble());
        opt.load_state_dict((PyDict)load(Fixtures.PathOf("adam_state.pt"))!);
        Assert.Equal(exp.GetProperty("lr").GetDouble(), opt.lr);
        var resumed = opt.state_dict();
        var state0 = (PyDict)((PyDict)resumed["state"]!)[0L]!;
        Assert.Equal(3.0, ((Tensor)state0["step"]!).item<double>());
        Assert.True(((Tensor)state0["exp_avg_sq"]!).gt(0).all().item<bool>());
    }

    [Fact]
    public void SavedAdamStateResumesBitExactly()
    {
        using var scope = NewDisposeScope();
        float[] Run(int steps, int saveAt, bool resume)
        {
            using var s = NewDisposeScope();
            manual_seed(42);
            using var model = new nn.Linear(8, 4);
            using var opt = new optim.Adam(model.parameters(), lr: 0.05);
            var x = randn(16, 8);
            var y = randn(16, 4);
            var path = Path.Combine(Path.GetTempPath(), $"ut-adam-{Guid.NewGuid():N}");
            try
            {
                for (var i = 0; i < steps; i++)
                {
                    if (resume && i == saveAt)
                    {
                        save(model.state_dict(), path + ".model");
                        save(opt.state_dict(), path + ".optim");
                        // A fresh model and optimizer, as after a restart, continue from the files.
                        using var m2 = new nn.Linear(8, 4);
                        m2.load_state_dict(load_state_dict(path + ".model"));
                        model.load_state_dict(m2.state_dict());
                        opt.Dispose();
                        var fresh = new optim.Adam(model.parameters(), lr: 0.05);
                        fresh.load_state_dict((PyDict)load(path + ".optim")!);
                        return Continue(model, fresh, x, y, i, steps);
                    }
                    Step(model, opt, x, y);
                }
                return model.weight.ToArray<float>();
            }
            finally
            {
                File.Delete(path + ".model");
                File.Delete(path + ".optim");
            }
        }

        static float[] Continue(nn.Linear model, optim.Adam opt, Tensor x, Tensor y, int from, int steps)
        {
            using (opt)
                for (var i = from; i < steps; i++) Step(model, opt, x, y);
            return model.weight.ToArray<float>();
        }

        static void Step(nn.Linear model, optim.Adam opt, Tensor x, Tensor y)
        {
            using var s = NewDisposeScope();
            opt.zero_grad();
            nn.functional.mse_loss(model.forward(x), y).backward();
            opt.step();
        }

        var straight = Run(20, -1, resume: false);
        var resumed = Run(20, 7, resume: true);
        Assert.Equal(straight, resumed);
        // And the run did move the weights (a resume that dropped the state would differ).
        Assert.NotEqual(straight, Run(7, -1, resume: false));
    }

    [Fact]
    public void AdamWDecaysWeightsAndLearningRateCanChangePerStep()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(tensor(new float[] { 1 }));
        using var opt = new optim.AdamW(new[] { p }, lr: 0.1, weight_decay: 0.5);
        p.grad = zeros(1);
        opt.step();
        // Zero gradient: only the decoupled decay acts: p * (1 - lr * wd).
        Assert.Equal(0.95f, p.item<float>(), 6);
        opt.lr = 0;
        opt.step();
        Assert.Equal(0.95f, p.item<float>(), 6);
    }

    [Fact]
    public void ClipGradNormScalesToTheLimit()
    {
        using var scope = NewDisposeScope();
        var a = new Parameter(zeros(2));
        var b = new Parameter(zeros(1));
        a.grad = tensor(new float[] { 3, 0 });
        b.grad = tensor(new float[] { 4 });
        var norm = nn.utils.clip_grad_norm_(new[] { a, b }, 1.0);
        Assert.Equal(5.0, norm, 5);
        Assert.Equal(0.6f, a.grad!.ToArray<float>()[0], 4);
        Assert.Equal(0.8f, b.grad!.item<float>(), 4);
    }
}
