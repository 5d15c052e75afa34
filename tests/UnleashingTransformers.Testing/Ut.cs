using System.Diagnostics;
using Xunit;

namespace UnleashingTransformers.Testing;

/// <summary>Runs the `ut` program as a separate process, as a user would.</summary>
public static class Ut
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "ut.dll");

    public static ProcessStartInfo Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public static (int code, string stdout, string stderr) Run(params string[] args) => Run(null, args);

    /// <summary>Runs ut with <paramref name="environment"/> added to this process's.</summary>
    public static (int code, string stdout, string stderr) Run(IDictionary<string, string>? environment, params string[] args)
    {
        var psi = Start(args);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException($"ut {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Ok(params string[] args) => Ok(null, args);

    public static string Ok(IDictionary<string, string>? environment, params string[] args)
    {
        var (code, stdout, stderr) = Run(environment, args);
        Assert.True(code == 0, $"ut {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>Bad input: exit code 1 and exactly one line on stderr, naming the problem.</summary>
    public static string Fails(params string[] args) => Fails(null, args);

    /// <summary>As <see cref="Fails(string[])"/>, with <paramref name="environment"/> added.</summary>
    public static string Fails(IDictionary<string, string>? environment, params string[] args)
    {
        var (code, _, stderr) = Run(environment, args);
        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got: {stderr}");
        Assert.StartsWith("ut: error: ", lines[0]);
        return lines[0];
    }
}

/// <summary>A temporary directory per test.</summary>
public abstract class TempDirTest : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("ut-cli-").FullName;
    protected string P(string name) => Path.Combine(Dir, name);

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
