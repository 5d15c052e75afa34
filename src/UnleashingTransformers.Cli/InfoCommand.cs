using System.CommandLine;
using UnleashingTransformers.Models.Transformer;
using System.Diagnostics;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary><c>ut info</c>: what the binding is linked against and runs on, and a forward pass of one
/// transformer block of the reference prior's width as a smoke test of the whole stack.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var image = new Option<string?>("--image") { Description = "print the generation parameters a PNG of this project carries, and nothing else" };
        var cmd = new Command("info", "Show libtorch/libvips versions, devices and threads; run a smoke forward pass; or an image's parameters") { image };
        common.AddTo(cmd);
        cmd.SetAction(result =>
        {
            if (result.GetValue(image) is { } file)
            {
                CommonOptions.RequireFile(file, "--image");
                var text = ImageCodec.Text(file, "parameters")
                    ?? throw new ArgumentException($"--image {file}: no generation parameters (a PNG written by ut generate, sample, inpaint, decode or a grid job carries them)");
                Console.WriteLine(System.Text.Json.Nodes.JsonNode.Parse(text) is { } json ? json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : text);
                return 0;
            }
            // Threads default to libtorch's own choice. Measured on the 2-core machine: GEMMs run on
            // OpenBLAS's own pthread pool either way, and 2 OpenMP threads on top oversubscribe the
            // cores (a transformer block takes 22 ms instead of 12 ms), so more is not better.
            var dev = common.Apply(result);
            Console.WriteLine($"libtorch   {version}");
            Console.WriteLine($"libvips    {ImageCodec.VipsVersion}");
            Console.WriteLine($"threads    {get_num_threads()}");
            Console.WriteLine($"cuda       {(cuda.is_available() ? $"{cuda.device_count()} device(s)" : "not available")}");
            // Float32 stays the default everywhere: a grid's replicas must give the same bits whatever machine they run on.
            Console.WriteLine(Bf16Support.Here
                ? "bfloat16   in hardware (avx512_bf16 or amx_bf16): --precision BFloat16 (Models:N:Precision) is an option here; the default is Float32"
                : "bfloat16   emulated (no avx512_bf16 or amx_bf16): keep the default Float32, BFloat16 would be 12-60x slower");
            Smoke(dev);
            return 0;
        });
        return cmd;
    }

    private static void Smoke(Device dev)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var g = new Generator(0);
        // One pre-LN block at the reference prior's width (512, 8 heads, 256 tokens).
        const int d = 512, heads = 8, tokens = 256;
        using var ln = new nn.LayerNorm(d);
        using var qkv = new nn.Linear(d, 3 * d);
        using var proj = new nn.Linear(d, d);
        using var fc1 = new nn.Linear(d, 4 * d);
        using var fc2 = new nn.Linear(4 * d, d);
        foreach (var m in new nn.Module[] { ln, qkv, proj, fc1, fc2 }) m.to(dev);
        var x = randn(new long[] { 1, tokens, d }, g).to(dev);
        Tensor Block(Tensor h)
        {
            using var s = NewDisposeScope();
            var parts = qkv.forward(ln.forward(h)).view(1, tokens, 3, heads, d / heads).permute(2, 0, 3, 1, 4);
            var att = (parts[0].matmul(parts[1].transpose(-2, -1)) / Math.Sqrt(d / heads)).softmax(-1);
            var y = h + proj.forward(att.matmul(parts[2]).transpose(1, 2).reshape(1, tokens, d));
            return (y + fc2.forward(nn.functional.gelu(fc1.forward(ln.forward(y))))).MoveToOuterDisposeScope();
        }
        Block(x);
        Tensor outp = x;
        var ms = double.MaxValue;
        for (var i = 0; i < 5; i++) // best of five: the first calls also pay one-time kernel set-up
        {
            var sw = Stopwatch.StartNew();
            outp = Block(x);
            if (dev.Type == DeviceType.CUDA) cuda.synchronize();
            ms = Math.Min(ms, sw.Elapsed.TotalMilliseconds);
        }
        var finite = outp.isfinite().all().item<bool>();
        Console.WriteLine($"smoke      one transformer block (512 wide, 8 heads, 256 tokens) on {dev}: {ms:F1} ms, output {(finite ? "finite" : "NOT FINITE")}");
        if (!finite) throw new TorchException("smoke forward pass produced non-finite values");
    }
}
