using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace UnleashingTransformers.Silo.Tests;

// Also compiled into bench/ (the grid benchmark starts its broker the same way).

/// <summary>
/// A real rabbitmq-server (Debian's, installed by deploy/bootstrap.sh) on free loopback ports, started
/// as an ordinary process with its data in a temporary folder, and stopped after the tests.
/// </summary>
public sealed class RabbitMqBroker : IDisposable
{
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private readonly string _dir = Directory.CreateTempSubdirectory("ut-rabbit-").FullName;

    public int Port { get; } = FreePort();
    public string Uri => $"amqp://127.0.0.1:{Port}";

    private readonly int _distPort = FreePort();
    private Process _process = null!;

    public RabbitMqBroker()
    {
        if (!File.Exists(Server)) throw new InvalidOperationException($"{Server} not found: run deploy/bootstrap.sh (installs rabbitmq-server)");
        File.WriteAllText(Path.Combine(_dir, "rabbit.conf"), $"listeners.tcp.1 = 127.0.0.1:{Port}\nloopback_users.guest = true\n");
        Start();
    }

    private void Start()
    {
        var psi = new ProcessStartInfo(Server) { RedirectStandardOutput = true, RedirectStandardError = true };
        var env = psi.Environment;
        env["RABBITMQ_NODENAME"] = $"ut-test-{Environment.ProcessId}-{Port}@localhost";
        env["RABBITMQ_NODE_PORT"] = Port.ToString();
        env["RABBITMQ_DIST_PORT"] = _distPort.ToString();
        env["RABBITMQ_CONFIG_FILE"] = Path.Combine(_dir, "rabbit");
        env["RABBITMQ_MNESIA_BASE"] = Path.Combine(_dir, "mnesia");
        env["RABBITMQ_LOG_BASE"] = Path.Combine(_dir, "log");
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_dir, "plugins");
        env["RABBITMQ_PID_FILE"] = Path.Combine(_dir, "pid");
        env["HOME"] = _dir; // the Erlang cookie
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (!Listening())
        {
            if (_process.HasExited || sw.Elapsed > TimeSpan.FromSeconds(60))
                throw new InvalidOperationException($"rabbitmq-server did not start on port {Port}; see {_dir}/log");
            Thread.Sleep(250);
        }
    }

    /// <summary>Kills the broker on the spot (its queues and persistent messages stay on disk).</summary>
    public void Kill()
    {
        var pidFile = Path.Combine(_dir, "pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var beam))
            try { Process.GetProcessById(beam).Kill(true); } catch (ArgumentException) { }
        if (!_process.HasExited) _process.Kill(true);
        _process.WaitForExit(10_000);
        File.Delete(pidFile);
        while (Listening()) Thread.Sleep(100);
    }

    /// <summary>Starts it again on the same port and data.</summary>
    public void Restart() => Start();

    private bool Listening()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        finally
        {
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }
    }
}
