using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Cli;

/// <summary>
/// <c>ut certs</c>: a development CA and the certificates a TLS cluster needs (<c>ca.pem</c>; <c>silo.pem</c>/<c>silo.key</c>
/// for every silo; <c>client.pem</c>/<c>client.key</c> for <c>ut submit --cluster</c>), for tests and first deployments.
/// Production clusters issue their own (cert-manager, a corporate CA): silos need server and client authentication
/// usages, clients client authentication.
/// </summary>
internal static class CertsCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Required = true, Description = "folder for ca.pem, ca.key, silo.pem, silo.key, client.pem, client.key (must not hold them yet)" };
        var days = new Option<int>("--days") { Description = "validity of the certificates", DefaultValueFactory = _ => 365 };
        var cmd = new Command("certs", "Make a development CA and silo and client certificates for Cluster:Tls (PEM files)") { output, days };
        cmd.SetAction(r =>
        {
            var dir = r.GetValue(output)!;
            var valid = r.GetValue(days);
            if (valid is < 1 or > 3650) throw new ArgumentException($"--days {valid}: expected 1 to 3650");
            var names = new[] { "ca.pem", "ca.key", "silo.pem", "silo.key", "client.pem", "client.key" };
            if (names.FirstOrDefault(n => File.Exists(Path.Combine(dir, n))) is { } existing)
                throw new ArgumentException($"--out {dir}: {existing} exists already: remove the old set or choose another folder");
            Directory.CreateDirectory(dir);
            var (from, until) = (DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(valid));
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            // A name of its own: while one CA replaces another, both are trusted side by side and told apart by name.
            var caRequest = new CertificateRequest($"CN=ut cluster CA {Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant()}", caKey, HashAlgorithmName.SHA256);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
            using var ca = caRequest.CreateSelfSigned(from, until);
            // Everything is made before anything is written: a refusal leaves no half set behind.
            var set = new[]
            {
                ("ca", Pem(ca, caKey)), ("silo", Issue(ca, "silo", from, until, server: true)), ("client", Issue(ca, "client", from, until, server: false)),
            };
            foreach (var (name, (certificate, key)) in set) Write(dir, name, certificate, key);
            Console.WriteLine($"certs: {string.Join(", ", names)} -> {dir} (valid {valid} days). Silos: Cluster:Tls:CaFile=ca.pem, " +
                "Cluster:Tls:CertificateFile=silo.pem, Cluster:Tls:KeyFile=silo.key; ut submit --cluster: UT__Cluster__Tls__CaFile, __CertificateFile, __KeyFile " +
                "with client.pem and client.key. Keep ca.key off the cluster.");
            return 0;
        });
        return cmd;
    }

    /// <summary>A certificate of <paramref name="ca"/> and its key, as PEM text.</summary>
    private static (string certificate, string key) Issue(X509Certificate2 ca, string name, DateTimeOffset from, DateTimeOffset until, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=ut {name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") };
        if (server) usages.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        if (server)
        {
            // Peers check the CA, not names; the names help tools such as openssl s_client.
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var certificate = request.Create(ca, from, until, serial);
        return Pem(certificate, key);
    }

    private static (string certificate, string key) Pem(X509Certificate2 certificate, ECDsa key) =>
        (certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");

    /// <summary>The certificate as NAME.pem and its key as NAME.key (owner-only), each written whole or not at all.</summary>
    private static void Write(string dir, string name, string certificate, string key)
    {
        AtomicFile.WriteAllText(Path.Combine(dir, $"{name}.pem"), certificate);
        AtomicFile.Write(Path.Combine(dir, $"{name}.key"), tmp =>
        {
            File.WriteAllText(tmp, "");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.WriteAllText(tmp, key);
        });
    }
}
