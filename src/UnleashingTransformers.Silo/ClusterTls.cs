using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace UnleashingTransformers.Silo;

/// <summary>
/// Mutual TLS on every Orleans connection, from the cluster's PEM files (<see cref="SiloConfig.TlsSettings"/>).
/// A peer is trusted when its certificate chains to a configured CA (and only to those: the machine's roots play
/// no part) and is issued for what it does there: the silo port takes silos only (server and client
/// authentication), the gateway port silos and clients (client authentication).
/// </summary>
public sealed class ClusterTls
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2Collection _authorities;

    /// <summary>This process's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection authorities) => (Certificate, _authorities) = (certificate, authorities);

    /// <summary>Reads the three files; a missing, unreadable or mismatched one is one line naming its key.</summary>
    public static ClusterTls Load(SiloConfig.TlsSettings files, string prefix = "Cluster:Tls:")
    {
        foreach (var problem in files.Problems(prefix)) throw new ArgumentException(problem);
        // One CA, or several while one is being replaced (their PEM blocks one after the other).
        var authorities = new X509Certificate2Collection();
        X509Certificate2 certificate;
        try
        {
            authorities.ImportFromPemFile(files.CaFile);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{prefix}CaFile {files.CaFile}: not a PEM certificate ({e.Message})");
        }
        if (authorities.Count == 0) throw new ArgumentException($"{prefix}CaFile {files.CaFile}: holds no PEM certificate");
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(files.CertificateFile, files.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"{prefix}CertificateFile/KeyFile {files.CertificateFile}: not a PEM certificate and its private key ({e.Message})");
        }
        var tls = new ClusterTls(certificate, authorities);
        if (!tls.Issued(certificate))
            throw new ArgumentException($"{prefix}CertificateFile {files.CertificateFile}: not issued by the CA in {prefix}CaFile (or expired): the cluster's peers would refuse it");
        return tls;
    }

    /// <summary>True when <paramref name="peer"/> chains to the CA, is valid now, and allows <paramref name="usage"/>
    /// (a certificate without usages allows none: the CA's certificates say what they are for).</summary>
    public bool Trusts(X509Certificate2 peer, string usage) => Issued(peer) && Allows(peer, usage);

    private bool Issued(X509Certificate2 peer)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreWrongUsage;
        return chain.Build(peer);
    }

    private static bool Allows(X509Certificate2 peer, string usage) =>
        peer.Extensions.OfType<X509EnhancedKeyUsageExtension>().Any(e => e.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == usage));

    /// <summary>A silo: TLS on the silo port (silos only), the gateway port (silos and clients) and its own
    /// connections to other silos (which must show silo certificates).</summary>
    public void Configure(ISiloBuilder silo)
    {
        var fromSilos = Options((peer, _, _) => Trusts(peer, ServerAuth) && Trusts(peer, ClientAuth));
        var fromClients = Options((peer, _, _) => Trusts(peer, ClientAuth));
        var toSilos = Options((peer, _, _) => Trusts(peer, ServerAuth));
        silo.Configure<SiloConnectionOptions>(o =>
        {
            o.ConfigureSiloInboundConnection(c => c.UseServerTls(fromSilos));
            o.ConfigureGatewayInboundConnection(c => c.UseServerTls(fromClients));
            o.ConfigureSiloOutboundConnection(c => c.UseClientTls(toSilos));
        });
    }

    /// <summary>An Orleans client: its certificate to the gateway port, which must show a silo certificate.</summary>
    public void Configure(IClientBuilder client) =>
        client.Configure<ClientConnectionOptions>(o => o.ConfigureConnection(c => c.UseClientTls(Options((peer, _, _) => Trusts(peer, ServerAuth)))));

    private TlsOptions Options(RemoteCertificateValidator validate) => new()
    {
        LocalCertificate = Certificate,
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        RemoteCertificateValidation = validate,
    };
}
