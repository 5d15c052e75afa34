using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace UnleashingTransformers.Testing;

/// <summary>
/// A throwaway redis-server on a free loopback port (Debian's redis-server, installed by
/// deploy/bootstrap.sh), no persistence: the cluster store of the multi-process tests.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    public int Port { get; } = Ports.Free();
    public string Endpoint => $"127.0.0.1:{Port}";

    public RedisServer()
    {
        var psi = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) psi.ArgumentList.Add(a);
        try
        {
            _process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server not found: run deploy/bootstrap.sh", e);
        }
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Ports.Listening(Port))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"redis-server did not start on port {Port}");
            Thread.Sleep(20);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}

public static class Ports
{
    public static int Free()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public static bool Listening(int port)
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
