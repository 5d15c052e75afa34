using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using UnleashingTransformers.Testing;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>A long-running `ut` process (a silo, a client) whose output lines can be waited on.</summary>
public sealed class UtProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _newLine = new(0);

    [DllImport("libc", EntryPoint = "signal")]
    private static extern IntPtr SysSignal(int signal, IntPtr handler);

    // A `ut` process starts as from a terminal: with SIGINT at its default disposition. A test run launched as a
    // background job of a non-interactive shell inherits SIGINT ignored (bash does that to background jobs), a
    // child would inherit it in turn, and .NET leaves a signal ignored at start ignored: Ctrl-C could not be tested.
    static UtProcess() => _ = SysSignal(2, IntPtr.Zero);   // SIGINT, SIG_DFL

    public UtProcess(IDictionary<string, string>? environment, params string[] args)
    {
        var psi = Ut.Start(args);
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data is null ? null : "stderr: " + e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static UtProcess Silo(string config, params string[] overrides) => new(null, ["silo", "--config", config, .. overrides]);

    private void Add(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        _newLine.Release();
    }

    public string Output => string.Join('\n', _lines);
    public bool Exited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits for a line containing <paramref name="text"/>; fails with the output so far.</summary>
    public string WaitFor(string text, double seconds = 60)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            if (_lines.FirstOrDefault(l => l.Contains(text)) is { } hit) return hit;
            if (_process.HasExited && !_newLine.Wait(200)) break;
            _newLine.Wait(200);
        }
        throw new TimeoutException($"no line with '{text}' after {sw.Elapsed.TotalSeconds:F0} s (exited: {_process.HasExited}); output:\n{Output}");
    }

    public int WaitForExit(double seconds = 120)
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(seconds))) throw new TimeoutException($"process did not exit; output:\n{Output}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int SysKill(int pid, int signal);

    /// <summary>SIGKILL: dies on the spot, as a crashed node would.</summary>
    public void Kill() { if (!_process.HasExited) { _ = SysKill(_process.Id, 9); _process.WaitForExit(); } }

    /// <summary>SIGINT: Ctrl-C at a terminal.</summary>
    public void Interrupt() { if (!_process.HasExited) _ = SysKill(_process.Id, 2); }

    /// <summary>SIGTERM: the graceful stop an orchestrator sends.</summary>
    public void Terminate() { if (!_process.HasExited) _ = SysKill(_process.Id, 15); }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
