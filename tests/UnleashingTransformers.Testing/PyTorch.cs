using System.Diagnostics;
using Xunit;

namespace UnleashingTransformers.Testing;

/// <summary>Debian's PyTorch (python3-torch): tests make reference files and values with it and check
/// the files the project writes.</summary>
public static class PyTorch
{
    public const string Python = "/usr/bin/python3";

    public static readonly bool Available = Probe();

    private static bool Probe()
    {
        try
        {
            var (code, _) = Run("-c", "import torch");
            return code == 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    public static (int code, string output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();   // both at once: a full pipe would block the other
        var output = p.StandardOutput.ReadToEnd() + error.Result;
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}

/// <summary>A fact that needs Debian's python3-torch; skipped, saying so, where it is missing.</summary>
public sealed class PyTorchFactAttribute : FactAttribute
{
    public PyTorchFactAttribute()
    {
        if (!PyTorch.Available) Skip = "needs Debian's python3-torch (/usr/bin/python3 with torch): run deploy/bootstrap.sh";
    }
}
