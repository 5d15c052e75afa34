using System.Net;
using System.Net.Sockets;

namespace UnleashingTransformers.Testing;

/// <summary>
/// Ports for the test processes to listen on. They come from below the kernel's ephemeral range, in turn: a port
/// the kernel hands out for bind(0) is also one it hands to outgoing connections, and with a dozen silos talking to
/// each other one of those took a port a silo was about to bind ("Address already in use" in CI). Below the range
/// only listeners take ports; each test process starts at a random place, and a port someone holds is skipped.
/// </summary>
public static class Ports
{
    private static readonly (int Low, int High) Range = ListenerRange();
    private static int s_next = Random.Shared.Next(Range.High - Range.Low);

    /// <summary>A port no one listens on now, and that no other call in this process has given.</summary>
    public static int Free()
    {
        for (var tries = 0; tries < Range.High - Range.Low; tries++)
        {
            var port = Range.Low + (int)((uint)Interlocked.Increment(ref s_next) % (uint)(Range.High - Range.Low));
            if (CanBind(port)) return port;
        }
        throw new InvalidOperationException($"no free port in {Range.Low}-{Range.High}");
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

    private static bool CanBind(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Any, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Up to 12,000 ports under net.ipv4.ip_local_port_range's low end (from 10000 up), or above its high
    /// end where too few are below.</summary>
    private static (int, int) ListenerRange()
    {
        var (low, high) = (32768, 60999);
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split(['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            (low, high) = (int.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return low - 10000 >= 2000 ? (Math.Max(10000, low - 12000), low) : (high + 1, Math.Min(65536, high + 12001));
    }
}
