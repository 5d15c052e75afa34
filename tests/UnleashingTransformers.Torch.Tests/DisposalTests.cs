using System.Diagnostics;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

public class DisposalTests
{
    [Fact]
    public void ScopesReleaseTensorsAndKeepWhatIsMovedOut()
    {
        Tensor kept, dropped;
        using (var outer = NewDisposeScope())
        {
            using (var inner = NewDisposeScope())
            {
                dropped = ones(2) * 2;
                kept = (ones(2) * 3).MoveToOuterDisposeScope();
                Assert.True(inner.Count >= 3);
            }
            Assert.True(dropped.IsClosed);
            Assert.False(kept.IsClosed);
            Assert.Equal(6f, kept.sum().item<float>());
        }
        Assert.True(kept.IsClosed);

        Tensor detached;
        using (NewDisposeScope()) detached = ones(1).DetachFromDisposeScope();
        Assert.False(detached.IsClosed);
        detached.Dispose();
    }

    [Fact]
    public void TenThousandForwardPassesInScopesKeepMemoryBounded()
    {
        using var model = new nn.Sequential(new nn.Linear(256, 256), new nn.GELU(), new nn.LayerNorm(256), new nn.Linear(256, 256));
        var x = randn(32, 256);
        long Rss()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var p = Process.GetCurrentProcess();
            p.Refresh();
            return p.WorkingSet64;
        }
        void Run(int n)
        {
            for (var i = 0; i < n; i++)
            {
                using var scope = NewDisposeScope();
                var y = model.forward(x).softmax(-1);
                _ = y.sum();
            }
        }
        Run(500); // warm-up: allocator caches, JIT
        var before = Rss();
        Run(10_000);
        var after = Rss();
        // Each pass allocates ~200 KB of tensors: 10,000 leaked passes would be ~2 GB.
        Assert.True(after - before < 64L << 20, $"resident memory grew by {(after - before) >> 20} MiB");
        x.Dispose();
    }
}
