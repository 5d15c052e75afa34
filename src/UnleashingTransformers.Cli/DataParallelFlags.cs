using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Cli;

/// <summary>
/// The data-parallel flags of train-prior and train-vqgan: <c>--ranks N</c> launches N ranks of this command on this
/// machine; <c>--rank R --world N --store HOST:PORT</c> is one rank, as other launchers (torchrun, a StatefulSet, the
/// trainer silos) start them. <c>--batch</c> is the global batch either way.
/// </summary>
internal sealed class DataParallelFlags
{
    private static readonly DataParallelOptions Defaults = new();

    public readonly Option<int> Ranks = new("--ranks") { Description = "launch this many ranks on this machine (data-parallel; --batch is shared among them)", DefaultValueFactory = _ => 1 };
    public readonly Option<int> Rank = new("--rank") { Description = "this process's rank in a run started by another launcher (with --world, --store)", DefaultValueFactory = _ => Defaults.Rank };
    public readonly Option<int> World = new("--world") { Description = "the run's ranks (with --rank, --store)", DefaultValueFactory = _ => Defaults.World };
    public readonly Option<string> Store = new("--store") { Description = "HOST:PORT of rank 0's TCP store: rank 0 listens on PORT", DefaultValueFactory = _ => Defaults.Store };
    public readonly Option<int> StoreTimeout = new("--store-timeout")
    {
        Description = "seconds a rank waits for the others, at the start and at each step", DefaultValueFactory = _ => Defaults.TimeoutSeconds,
    };

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Ranks, Rank, World, Store, StoreTimeout }) c.Options.Add(o);
    }

    /// <summary>This process's place in the run (one process when no flag is given).</summary>
    public DataParallelOptions Options(ParseResult r) => new()
    {
        Rank = r.GetValue(Rank), World = r.GetValue(World), Store = r.GetValue(Store)!, TimeoutSeconds = r.GetValue(StoreTimeout),
    };

    /// <summary>The run <c>--ranks N</c> (N > 1) launches on this machine, its store on a free loopback port; null when
    /// this process trains itself.</summary>
    public DataParallelOptions? Launched(ParseResult r)
    {
        var n = r.GetValue(Ranks);
        if (n < 1) throw new ArgumentException($"--ranks {n}: must be >= 1");
        if (n == 1) return null;
        if (r.GetValue(World) != 1) throw new ArgumentException("--ranks launches a run of its own: give it without --rank/--world/--store");
        return Options(r) with { World = n, Store = $"127.0.0.1:{FreePort()}" };
    }

    /// <summary>
    /// Runs the ranks of <paramref name="run"/> as processes of this very command line, each with its rank, the world and
    /// the store, and waits for them. Rank 0 writes to this console; the others' errors come prefixed by their
    /// rank. When one fails, the others are stopped and the run ends (resume it with --resume); returns the exit code.
    /// </summary>
    public static int Launch(string command, DataParallelOptions run, int batch, int threads)
    {
        var (ranks, store) = (run.World, run.Store);
        var perRank = threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount / ranks);
        var own = Environment.GetCommandLineArgs();
        var host = Environment.ProcessPath!;
        var prefix = Path.GetFileNameWithoutExtension(host) == "dotnet" ? new[] { own[0] } : [];
        var args = WithoutFlags(own.Skip(1).ToList(), "--ranks", "--threads", "--store-timeout");
        var processes = new List<Process>();
        using var stopping = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;   // the ranks are stopped below
            stopping.Cancel();
        };
        try
        {
            for (var rank = 0; rank < ranks; rank++)
            {
                var start = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = rank > 0, RedirectStandardError = rank > 0 };
                string[] place = ["--rank", $"{rank}", "--world", $"{ranks}", "--store", store, "--store-timeout", $"{run.TimeoutSeconds}", "--threads", $"{perRank}"];
                foreach (var a in prefix.Concat(args).Concat(place)) start.ArgumentList.Add(a);
                var p = Process.Start(start) ?? throw new IOException($"{command}: could not start rank {rank}");
                if (rank > 0)
                {
                    var r = rank;
                    p.OutputDataReceived += (_, _) => { };
                    p.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Console.Error.WriteLine($"rank {r}: {line}"); };
                    p.BeginOutputReadLine();
                    p.BeginErrorReadLine();
                }
                processes.Add(p);
            }
            Console.WriteLine($"{command}: {ranks} ranks on this machine, store {store}, {perRank} thread(s) each, global batch {batch} ({batch / ranks} a rank)");
            while (!stopping.IsCancellationRequested)
            {
                if (processes.FindIndex(p => p.HasExited && p.ExitCode != 0) is var failed and >= 0)
                {
                    var code = processes[failed].ExitCode;
                    Stop(processes);
                    Console.Error.WriteLine($"ut: error: {command}: rank {failed} of {ranks} exited with code {code}; the other ranks were stopped: "
                        + "the newest checkpoint is the run's, continue it with --resume");
                    return 1;
                }
                if (processes.All(p => p.HasExited)) return 0;
                Thread.Sleep(100);
            }
            return 130;
        }
        finally
        {
            Stop(processes);
            foreach (var p in processes) p.Dispose();
        }
    }

    private static void Stop(List<Process> processes)
    {
        foreach (var p in processes)
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
            }
    }

    private static List<string> WithoutFlags(List<string> args, params string[] flags)
    {
        var kept = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var flag = flags.FirstOrDefault(f => args[i] == f || args[i].StartsWith(f + "=", StringComparison.Ordinal));
            if (flag is null) kept.Add(args[i]);
            else if (args[i] == flag) i++;   // and its value
        }
        return kept;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
