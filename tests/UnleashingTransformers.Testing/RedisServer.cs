using System.Diagnostics;

namespace UnleashingTransformers.Testing;

/// <summary>
/// A throwaway redis-server on a free loopback port (Debian's redis-server, installed by
/// deploy/bootstrap.sh), no persistence: the cluster store of the multi-process tests.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly string? _dir;
    private Process _process;

    public int Port { get; } = Ports.Free();
    public string Endpoint => $"127.0.0.1:{Port}";
    /// <summary>The password it requires (requirepass), or null.</summary>
    public string? Password { get; }
    /// <summary>What a silo's Cluster:Redis names: the endpoint and, when it has one, the password.</summary>
    public string ConnectionString => Password is null ? Endpoint : $"{Endpoint},password={Password}";

    /// <param name="password">requirepass, or none.</param>
    /// <param name="persistDir">an append-only file there, so the server can be stopped and started again with
    /// everything it held (<see cref="Stop"/>, <see cref="Start"/>); null: nothing persisted.</param>
    public RedisServer(string? password = null, string? persistDir = null)
    {
        (Password, _dir) = (password, persistDir);
        if (persistDir is not null) Directory.CreateDirectory(persistDir);
        _process = Launch();
    }

    /// <summary>Stops the server (SIGTERM: it writes its append-only file and exits).</summary>
    public void Stop()
    {
        if (_process.HasExited) return;
        _ = Signal(_process.Id, 15);
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.Dispose();
    }

    /// <summary>Starts it again on the same port, from what it had persisted.</summary>
    public void Start() => _process = Launch();

    private Process Launch()
    {
        var psi = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        var args = new List<string> { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "" };
        args.AddRange(_dir is null ? ["--appendonly", "no"] : ["--appendonly", "yes", "--dir", _dir]);
        if (Password is not null) args.AddRange(["--requirepass", Password]);
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server not found: run deploy/bootstrap.sh", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Ports.Listening(Port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"redis-server did not start on port {Port}");
            Thread.Sleep(20);
        }
        return process;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Signal(int pid, int signal);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}
