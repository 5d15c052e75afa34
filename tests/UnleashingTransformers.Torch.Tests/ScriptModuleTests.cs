using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Torch.Tests;

public class ScriptModuleTests : TempDirTest
{
    // A scripted module with a keyword flag and a tuple result, saved by PyTorch with the input it was
    // given and its outputs, to run here and compare.
    private const string MakeModule = """
        import sys, torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
                self.bn = torch.nn.BatchNorm2d(4)
                self.drop = torch.nn.Dropout(0.5)
            def forward(self, x: torch.Tensor, scale: float = 1.0, return_features: bool = False):
                h = self.drop(torch.relu(self.bn(self.conv(x)))) * scale
                f = h.mean(dim=[2, 3])
                if return_features:
                    return f
                return f.sum(dim=1)
            @torch.jit.export
            def both(self, x: torch.Tensor):
                f = self.forward(x, 1.0, True)
                return f, f * 2
        torch.manual_seed(0)
        net = Net()
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.eval()
        m = torch.jit.script(net)
        m.save(sys.argv[1] + "/net.pt")
        x = torch.rand(2, 3, 9, 9)
        with torch.no_grad():
            torch.save({"x": x, "plain": m(x), "features": m(x, 2.0, True)}, sys.argv[1] + "/io.pt")
        """;

    [PyTorchFact]
    public void AScriptedModuleRunsAsInPyTorchWithNamedArgumentsAndTuples()
    {
        var script = P("make.py");   // a file: torch.jit.script reads the class's source
        File.WriteAllText(script, MakeModule);
        var (code, output) = PyTorch.Run(script, Dir);
        Assert.True(code == 0, output);
        using var scope = NewDisposeScope();
        var io = (Serialization.PyDict)load(P("io.pt"))!;
        var x = (Tensor)io["x"]!;
        using var net = jit.load(P("net.pt"));
        using var _ = no_grad();

        // Eval mode (dropout off, running statistics used): the same values as PyTorch.
        var plain = net.forward(x);
        Fixtures.Close(Fixtures.Values((Tensor)io["plain"]!), Fixtures.Values(plain), 1e-5);
        Assert.Equal(new long[] { 2 }, plain.shape);

        var features = net.forward(x, new Dictionary<string, object> { ["return_features"] = true, ["scale"] = 2.0 });
        Assert.Equal(new long[] { 2, 4 }, features.shape);
        Fixtures.Close(Fixtures.Values((Tensor)io["features"]!), Fixtures.Values(features), 1e-5);

        var both = net.Call("both", [x]);
        Assert.Equal(2, both.Length);
        Fixtures.Close(Fixtures.Values(both[0]).Select(v => v * 2).ToArray(), Fixtures.Values(both[1]), 1e-5);

        // Mistakes name what is wrong.
        Assert.Contains("no argument 'size'", Assert.Throws<TorchException>(() => net.forward(x, new Dictionary<string, object> { ["size"] = 3 })).Message);
        Assert.Contains("no method 'missing'", Assert.Throws<TorchException>(() => net.Call("missing", [x])).Message);
        Assert.Contains("return_features", Assert.Throws<TorchException>(() => net.forward(x, new Dictionary<string, object> { ["return_features"] = 0.5 })).Message);
    }

    [Fact]
    public void AFileThatIsNotTorchScriptIsAnError()
    {
        var path = P("not.pt");
        File.WriteAllText(path, "not a zip archive");
        Assert.Throws<TorchException>(() => jit.load(path));
        Assert.Throws<TorchException>(() => jit.load(P("missing.pt")));
    }
}
