using System.Net;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace UnleashingTransformers.Grid.Transports.RabbitMq;

/// <summary>The broker could not be reached or refused us; the message names the fix.</summary>
public sealed class BrokerUnavailableException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Where the broker is and how to log in. Credentials come from the URI's user part or from
/// <c>User</c>/<c>Password</c> (environment <c>UT__Broker__User</c>, <c>UT__Broker__Password</c>), never
/// required in a file. RabbitMQ's <c>guest</c> login is refused off loopback (RabbitMQ refuses it there
/// too, with a less helpful message). <c>amqps://</c> turns TLS on.
/// </summary>
public sealed record BrokerSettings
{
    public string Uri { get; init; } = "";
    public string? User { get; init; }
    public string? Password { get; init; }
    /// <summary>The durable work queue all window replicas consume from.</summary>
    public string Queue { get; init; } = "ut.windows";
    /// <summary>The fanout exchange trainers announce new weights on.</summary>
    public string WeightsExchange { get; init; } = "ut.weights";
    /// <summary>TLS: the name the server certificate must carry (default: the URI's host).</summary>
    public string? TlsServerName { get; init; }
    public int ConnectTimeoutSeconds { get; init; } = 5;

    public bool Configured => !string.IsNullOrWhiteSpace(Uri);

    /// <summary>Checks the URI and login rules; throws ArgumentException with the fix.</summary>
    public Uri Validate(string name = "Broker:Uri")
    {
        if (!System.Uri.TryCreate(Uri, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
            throw new ArgumentException($"{name} '{Uri}' is not a broker address: expected amqp://host[:port][/vhost] or amqps://...");
        var (user, _) = Credentials(uri);
        if (user == "guest" && !IsLoopback(uri.Host))
            throw new ArgumentException($"{name}: the guest login only works on loopback, and {uri.Host} is not: set UT__Broker__User and UT__Broker__Password");
        return uri;
    }

    private (string user, string password) Credentials(Uri uri)
    {
        var info = uri.UserInfo.Split(':', 2);
        if (info[0].Length > 0) return (System.Uri.UnescapeDataString(info[0]), info.Length > 1 ? System.Uri.UnescapeDataString(info[1]) : "");
        return (User ?? "guest", Password ?? (User is null ? "guest" : ""));
    }

    private static bool IsLoopback(string host) =>
        host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The broker address without credentials, for messages and logs.</summary>
    public string Display
    {
        get
        {
            if (!System.Uri.TryCreate(Uri, UriKind.Absolute, out var uri)) return Uri;
            return new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString().TrimEnd('/');
        }
    }

    /// <summary>Opens a connection, or throws <see cref="BrokerUnavailableException"/> with one line
    /// that says what failed and what to do: no retry loop here, a silo that cannot start says so.</summary>
    /// <param name="health">told of connection loss (with the reason) and recovery (null), for readiness.</param>
    public async Task<IConnection> ConnectAsync(string clientName, CancellationToken cancel = default, Action<string?>? health = null)
    {
        var uri = Validate();
        var (user, password) = Credentials(uri);
        var factory = new ConnectionFactory
        {
            Uri = new UriBuilder(uri) { UserName = "", Password = "" }.Uri,
            UserName = user,
            Password = password,
            ClientProvidedName = clientName,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(ConnectTimeoutSeconds),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
        };
        if (uri.Scheme == "amqps")
        {
            factory.Ssl.Enabled = true;
            factory.Ssl.ServerName = TlsServerName ?? uri.Host;
        }
        try
        {
            var connection = await factory.CreateConnectionAsync(cancel);
            if (health is not null)
            {
                connection.ConnectionShutdownAsync += (_, e) => { health($"broker connection lost ({e.ReplyText})"); return Task.CompletedTask; };
                connection.RecoverySucceededAsync += (_, _) => { health(null); return Task.CompletedTask; };
            }
            return connection;
        }
        catch (BrokerUnreachableException e) when (e.InnerException is AuthenticationFailureException or PossibleAuthenticationFailureException)
        {
            throw new BrokerUnavailableException($"broker {Display} refused the login of user '{user}': set UT__Broker__User and UT__Broker__Password (or the URI's user:password)", e);
        }
        catch (BrokerUnreachableException e)
        {
            var cause = e.InnerException?.InnerException?.Message ?? e.InnerException?.Message ?? e.Message;
            throw new BrokerUnavailableException($"broker {Display} is unreachable ({cause}): start RabbitMQ there or fix the broker address", e);
        }
    }
}
