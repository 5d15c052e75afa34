using System.Diagnostics;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class LpipsTests
{
    [PyTorchFact]
    public void LpipsWithTheLpipsPackagesKeysMatchesPyTorch()
    {
        var dir = Directory.CreateTempSubdirectory("ut-lpips-").FullName;
        try
        {
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Fixture.PathOf("make_lpips_fixture.py"));
            psi.ArgumentList.Add(dir);
            using (var p = Process.Start(psi)!)
            {
                var err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, err);
            }
            using var scope = NewDisposeScope();
            using var lpips = Lpips.Load(Path.Combine(dir, "lpips.th"));   // keys under "perceptual.", with "lins.*" duplicates
            var inputs = (PyDict)load(Path.Combine(dir, "lpips_inputs.pt"))!;
            var value = lpips.forward((Tensor)inputs["a"]!, (Tensor)inputs["b"]!);
            Assert.Equal(new long[] { 2, 1, 1, 1 }, value.shape);
            var want = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "lpips.json"))).RootElement.GetProperty("value").Doubles();
            var got = value.flatten().to(float64).ToArray<double>();
            for (var i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) < 1e-5 * Math.Max(1, Math.Abs(want[i])), $"{got[i]} vs PyTorch {want[i]}");
            // Identical images are at distance 0; the weights are frozen.
            Assert.Equal(0f, lpips.forward((Tensor)inputs["a"]!, (Tensor)inputs["a"]!).abs().max().item<float>(), 6);
            Assert.All(lpips.parameters(), p => Assert.False(p.requires_grad));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AFileWithoutLpipsWeightsIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => Lpips.Load(Fixture.PathOf("absorbing_tiny.th")));
        Assert.Contains("no LPIPS weights", e.Message);
    }
}
