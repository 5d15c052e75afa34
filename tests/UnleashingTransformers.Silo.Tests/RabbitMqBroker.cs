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

    public RabbitMqBroker() : this(tls: false) { }

    /// <summary>A broker with, besides its plain listener, a TLS listener (<see cref="TlsUri"/>) whose
    /// certificate comes from a CA made for the run with openssl (<see cref="CaFile"/>).</summary>
    public static RabbitMqBroker WithTls() => new(tls: true);

    // One public constructor: xunit builds the fixture from it.
    private RabbitMqBroker(bool tls)
    {
        if (!File.Exists(Server)) throw new InvalidOperationException($"{Server} not found: run deploy/bootstrap.sh (installs rabbitmq-server)");
        var conf = $"listeners.tcp.1 = 127.0.0.1:{Port}\nloopback_users.guest = true\n";
        if (tls)
        {
            MakeCertificates();
            conf += $"listeners.ssl.1 = 127.0.0.1:{TlsPort}\nssl_options.cacertfile = {CaFile}\nssl_options.certfile = {_dir}/server.pem\n" +
                $"ssl_options.keyfile = {_dir}/server.key\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n";
        }
        File.WriteAllText(Path.Combine(_dir, "rabbit.conf"), conf);
        Start();
    }

    public int TlsPort { get; } = FreePort();
    public string TlsUri => $"amqps://localhost:{TlsPort}";
    public string CaFile => Path.Combine(_dir, "ca.pem");

    private void MakeCertificates()
    {
        File.WriteAllText(Path.Combine(_dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        foreach (var args in new[]
        {
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ut-test-ca",
            "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext",
        })
        {
            var psi = new ProcessStartInfo("openssl", args) { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {args}: {err}");
        }
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
