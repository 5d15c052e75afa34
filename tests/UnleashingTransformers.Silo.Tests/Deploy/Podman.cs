using System.Diagnostics;

namespace UnleashingTransformers.Silo.Tests.Deploy;

/// <summary>
/// podman as the container tests use it: always with deploy/containers.conf (runc and the ulimits this
/// sandbox allows), the image built once per test run by deploy/image.sh, containers on the host's network
/// talking over 127.0.0.1 (bridge networks are not used here).
/// </summary>
public static class Podman
{
    public const string Image = "localhost/ut:test";
    private static readonly string Conf = Path.Combine(Manifests.Repo, "deploy", "containers.conf");
    private static readonly Lazy<string> Built = new(() => Script(Path.Combine(Manifests.Repo, "deploy", "image.sh"), Image));

    /// <summary>Why containers cannot run here, or null. deploy/image.sh installs podman itself where it may (root).</summary>
    public static string? CannotRun()
    {
        if (!OperatingSystem.IsLinux()) return "podman containers are tested on Linux only";
        var onPath = (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "podman")));
        return onPath || System.Environment.UserName == "root" ? null : "podman is not installed and this user cannot install it (deploy/image.sh needs root or sudo for apt-get)";
    }

    /// <summary>
    /// The host's OpenBLAS settings (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE), which some machines set because
    /// OpenBLAS' own choice of kernels is wrong there: containers get them too, or their matrix products pick
    /// other kernels and round differently from the host's (measured: other pixels from the same tokens).
    /// </summary>
    public static IReadOnlyDictionary<string, string> BlasEnvironment =>
        System.Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("OPENBLAS_", StringComparison.Ordinal))
            .Order().ToDictionary(k => k, k => System.Environment.GetEnvironmentVariable(k)!);

    /// <summary>Builds <see cref="Image"/> with deploy/image.sh (once per test run); returns its last line.</summary>
    public static string Build() => Built.Value;

    public static (int code, string output) Run(params string[] args)
    {
        // Not from the test folder: kube play builds an image itself when the folder holds one of its name (ut/).
        var psi = new ProcessStartInfo("podman") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        psi.Environment["CONTAINERS_CONF"] = Conf;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static string Ok(params string[] args)
    {
        var (code, output) = Run(args);
        if (code != 0) throw new InvalidOperationException($"podman {string.Join(' ', args)}: exit {code}: {output}");
        return output;
    }

    private static string Script(string path, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(path);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(20))) p.Kill(entireProcessTree: true);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{path} failed ({p.ExitCode}): {stdout}{stderr.Result}");
        return stdout.Trim().Split('\n')[^1];
    }
}

/// <summary>A named container of <see cref="Podman.Image"/> on the host's network; removed when disposed.</summary>
public sealed class Container : IDisposable
{
    public string Name { get; }

    public Container(string name, IEnumerable<string> volumes, params string[] command)
    {
        Name = name;
        Podman.Run("rm", "-f", name);
        Podman.Ok(["run", "-d", "--name", name, "--network=host", .. volumes.SelectMany(v => new[] { "-v", v }),
            .. Podman.BlasEnvironment.SelectMany(e => new[] { "-e", $"{e.Key}={e.Value}" }), Podman.Image, .. command]);
    }

    public string Logs() => Podman.Run("logs", Name).output;

    public string WaitFor(string text, double seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            var logs = Logs();
            var line = logs.Split('\n').FirstOrDefault(l => l.Contains(text));
            if (line is not null) return line;
            if (State() is "exited" or "stopped") throw new InvalidOperationException($"{Name} exited before '{text}': {logs}");
            Thread.Sleep(200);
        }
        throw new TimeoutException($"{Name}: no '{text}' after {seconds} s: {Logs()}");
    }

    public string State() => Podman.Run("inspect", "--format", "{{.State.Status}}", Name).output.Trim();
    public int ExitCode() => int.Parse(Podman.Ok("inspect", "--format", "{{.State.ExitCode}}", Name).Trim());

    public void Dispose() => Podman.Run("rm", "-f", "-t", "0", Name);
}
