using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
    /// <summary>TLS: a CA certificate (PEM) to trust for the broker, for brokers with a private CA
    /// (default: the system's trust store).</summary>
    public string? TlsCaFile { get; init; }
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
            if (!string.IsNullOrEmpty(TlsCaFile)) factory.Ssl.CertificateValidationCallback = TrustOnly(LoadCa(TlsCaFile));
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
        catch (BrokerUnreachableException e) when (e.InnerException?.InnerException is AuthenticationException || e.InnerException is AuthenticationException)
        {
            throw new BrokerUnavailableException($"broker {Display}: TLS handshake failed ({(e.InnerException?.InnerException ?? e.InnerException)!.Message}): " +
                "check the broker's certificate, Broker:TlsServerName and Broker:TlsCaFile", e);
        }
        catch (BrokerUnreachableException e)
        {
            var cause = e.InnerException?.InnerException?.Message ?? e.InnerException?.Message ?? e.Message;
            throw new BrokerUnavailableException($"broker {Display} is unreachable ({cause}): start RabbitMQ there or fix the broker address", e);
        }
    }

    private static X509Certificate2 LoadCa(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"Broker:TlsCaFile {path}: file not found");
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(path));
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"Broker:TlsCaFile {path}: not a PEM certificate ({e.Message})");
        }
    }

    /// <summary>Accepts a server certificate that chains to <paramref name="ca"/> and matches the name.</summary>
    private static RemoteCertificateValidationCallback TrustOnly(X509Certificate2 ca) => (_, certificate, _, errors) =>
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    };
}
