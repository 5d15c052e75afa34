using System.Net;
using Microsoft.Extensions.Configuration;
using UnleashingTransformers.Grid;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Training;
using UnleashingTransformers.Models;
using UnleashingTransformers.Models.Transformer;

namespace UnleashingTransformers.Silo;

/// <summary>
/// A silo's configuration: <c>silo.json</c>, then environment variables <c>UT__Section__Key</c>, then
/// <c>Key=Value</c> arguments (the .NET configuration order; later wins). Relative paths are relative to
/// the config file. <see cref="Load"/> checks everything a user can get wrong before anything starts.
/// Each option's default is stated once, here or in the record it comes from.
/// </summary>
public sealed record SiloConfig
{
    public static readonly string[] KnownRoles = SiloRoles.All;

    public string[] Roles { get; init; } = [];
    public string Device { get; init; } = "cpu";
    /// <summary>libtorch and BLAS threads (0: libtorch's default, BLAS's own).</summary>
    public int Threads { get; init; }
    /// <summary>Job state (file storage of the localhost provider) and images; canvas silos and gateways share it.</summary>
    public string StateDirectory { get; init; } = "state";
    /// <summary>The models the silo serves (window) or takes jobs for (canvas), by name; the first is the default.</summary>
    public ModelSettings[] Models { get; init; } = [];
    public ClusterSettings Cluster { get; init; } = new();
    public WindowSettings Window { get; init; } = new();
    public CanvasSettings Canvas { get; init; } = new();
    public GatewaySettings Gateway { get; init; } = new();
    public OpsSettings Ops { get; init; } = new();
    public TelemetrySettings Telemetry { get; init; } = new();
    public TrainerSettings Trainer { get; init; } = new();

    public bool Has(string role) => Roles.Contains(role);

    /// <summary>One model: a name, a prior and the VQ-GAN it was trained with. A name alone that is a bundled model's
    /// (<c>terrain</c>, in <c>models/</c> beside the program) stands for its files.</summary>
    public sealed record ModelSettings
    {
        public string Name { get; init; } = "";
        public string Prior { get; init; } = "";
        /// <summary>The prior's attention heads, for files that do not record them (the paper's have 8); ours do.</summary>
        public int? Heads { get; init; }
        public string VqGan { get; init; } = "";
        public string Precision { get; init; } = "Float32";

        /// <summary>The bundled model of this name, when the entry gives no files.</summary>
        public ModelSettings Bundled()
        {
            if (Prior.Length > 0 || VqGan.Length > 0) return this;
            var dir = Path.Combine(AppContext.BaseDirectory, "models", Name);
            return this with { Prior = Path.Combine(dir, "absorbing_ema.th"), VqGan = Path.Combine(dir, "vqgan_ema.th") };
        }

        public ModelEntry Entry() => new(Name, Prior, VqGan, Heads, Enum.Parse<InferencePrecision>(Precision, ignoreCase: true));
    }

    /// <summary>How silos find each other and where grain state and reminders live.</summary>
    public sealed record ClusterSettings
    {
        /// <summary><c>localhost</c>: one process, grain state in files under StateDirectory, reminders in
        /// memory. <c>redis</c>: membership, grain state and reminders in the redis-server at <see cref="Redis"/>.</summary>
        public string Provider { get; init; } = "localhost";
        /// <summary>The redis-server (Provider redis): <c>host:port</c>, or StackExchange.Redis's form with options,
        /// e.g. <c>host:port,password=...,ssl=true</c>.</summary>
        public string Redis { get; init; } = "";
        /// <summary>A file holding the redis password (a mounted secret), so it need not be written in the config or
        /// an environment variable; it overrides a <c>password=</c> in <see cref="Redis"/>.</summary>
        public string RedisPasswordFile { get; init; } = "";
        /// <summary>Mutual TLS on the silo and Orleans gateway ports (see <see cref="TlsSettings"/>).</summary>
        public TlsSettings Tls { get; init; } = new();
        /// <summary>Runs a cluster reachable off loopback without TLS: anyone who reaches its ports joins it or
        /// calls its grains. Only for a network that nothing else can reach.</summary>
        public bool Insecure { get; init; }
        /// <summary>How long a grain state read or write is retried through a storage outage (redis down, disk full)
        /// before it fails; a job whose save fails then waits as <c>resuming</c> and goes on once storage is back.</summary>
        public int StorageRetrySeconds { get; init; } = 60;
        public string ClusterId { get; init; } = "ut";
        public string ServiceId { get; init; } = "ut";
        /// <summary>Port silos talk to each other on.</summary>
        public int SiloPort { get; init; } = 11111;
        /// <summary>Port Orleans clients (<c>ut submit --cluster</c>) connect to.</summary>
        public int GatewayPort { get; init; } = 30000;
        /// <summary>Address other silos reach this one at; set it to this host's address when silos run on
        /// several hosts (on Kubernetes the pod's IP is used).</summary>
        public string AdvertisedAddress { get; init; } = "127.0.0.1";
        /// <summary>This silo's name, the first part of its window replicas' keys (default: ut-HOST-PID).</summary>
        public string SiloName { get; init; } = "";
        /// <summary>Largest Orleans message body, in bytes (Orleans' default, 100 MB). Nothing the grid sends comes
        /// near it: outputs travel in 256 KB chunks, a decoded tile is bounded by the tile size.</summary>
        public int MaxMessageBytes { get; init; } = 100 * 1024 * 1024;

        public IEnumerable<string> Problems()
        {
            if (StorageRetrySeconds < 1) yield return $"Cluster:StorageRetrySeconds {StorageRetrySeconds}: expected at least 1";
            if (MaxMessageBytes < 1 << 20) yield return $"Cluster:MaxMessageBytes {MaxMessageBytes}: expected at least 1048576 (1 MB)";
            if (Provider is not ("localhost" or "redis")) yield return $"Cluster:Provider '{Provider}': expected localhost or redis";
            if (Provider == "redis"
                && !RedisEndpoint.Valid(Redis)) yield return $"Cluster:Redis '{RedisEndpoint.Redacted(Redis)}': expected host:port of a redis-server (e.g. 127.0.0.1:6379), optionally with " +
                    $",password=...";
            if (!string.IsNullOrEmpty(RedisPasswordFile) && !File.Exists(RedisPasswordFile)) yield return $"Cluster:RedisPasswordFile: file {RedisPasswordFile} not found";
            foreach (var problem in Tls.Problems()) yield return problem;
            if (Provider == "redis" && OffLoopback && !Tls.Enabled && !Insecure)
                yield return $"Cluster:AdvertisedAddress {(OrleansSetup.InKubernetes ? "(the pod's IP)" : AdvertisedAddress)} is off loopback and the cluster has no TLS: anyone who reaches its " +
                    $"ports could join it or call its grains. " +
                    "Set Cluster:Tls:CaFile, CertificateFile and KeyFile (ut certs --out DIR makes a set), or Cluster:Insecure=true for a network nothing else reaches";
            if (SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort)
                yield return $"Cluster: SiloPort {SiloPort} and GatewayPort {GatewayPort} must be two different ports";
            if (!IPAddress.TryParse(AdvertisedAddress, out _)) yield return $"Cluster:AdvertisedAddress '{AdvertisedAddress}' is not an IP address";
            if (SiloName.Contains('/')) yield return $"Cluster:SiloName '{SiloName}' must not contain '/'";
            if (string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId)) yield return "Cluster: ClusterId and ServiceId must not be empty";
        }

        /// <summary>Other hosts can reach this silo's ports: it advertises an address off loopback, or runs in a pod.</summary>
        public bool OffLoopback => OrleansSetup.InKubernetes || !(IPAddress.TryParse(AdvertisedAddress, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>
    /// The cluster's certificates, PEM files (e.g. a mounted Kubernetes secret; cert-manager's <c>ca.crt</c>,
    /// <c>tls.crt</c> and <c>tls.key</c> serve as they are). Every connection to the silo and gateway ports is TLS
    /// and both ends show a certificate issued by the CA: silos one usable for server and client authentication,
    /// clients (<c>ut submit --cluster</c>) one for client authentication. Names are not checked (silos are
    /// reached by address, pods' addresses change): what the CA issued is what is trusted.
    /// </summary>
    public sealed record TlsSettings
    {
        /// <summary>The CA that issued every silo's and client's certificate (PEM; several, one after the other, while
        /// the CA is being replaced).</summary>
        public string CaFile { get; init; } = "";
        /// <summary>This silo's certificate (PEM), issued by the CA.</summary>
        public string CertificateFile { get; init; } = "";
        /// <summary>The certificate's private key (PEM, PKCS#8 or the key's own form).</summary>
        public string KeyFile { get; init; } = "";

        public bool Enabled => !string.IsNullOrEmpty(CaFile) || !string.IsNullOrEmpty(CertificateFile) || !string.IsNullOrEmpty(KeyFile);

        public IEnumerable<string> Problems(string prefix = "Cluster:Tls:")
        {
            if (!Enabled) yield break;
            foreach (var (key, path) in new[] { ("CaFile", CaFile), ("CertificateFile", CertificateFile), ("KeyFile", KeyFile) })
            {
                if (string.IsNullOrEmpty(path)) yield return $"{prefix}{key} is not set: TLS needs the CA, the certificate and its key (ut certs --out DIR makes a set)";
                else if (!File.Exists(path)) yield return $"{prefix}{key}: file {path} not found";
            }
        }
    }

    public sealed record GatewaySettings
    {
        public string Host { get; init; } = "127.0.0.1";
        public int Port { get; init; } = 8080;
        /// <summary>Bearer token the API and dashboard require; required when Host is not loopback.
        /// Better given as UT__Gateway__Token than written in a file.</summary>
        public string Token { get; init; } = "";

        public bool OnLoopback => IsLoopback(Host);
    }

    /// <summary>Every silo's own HTTP port for orchestrators and scrapers: <c>/healthz</c>, <c>/readyz</c> and
    /// <c>/metrics</c> (Prometheus text). Port 0: none (a gateway silo still answers the probes on its port).</summary>
    public sealed record OpsSettings
    {
        public string Host { get; init; } = "127.0.0.1";
        public int Port { get; init; }
        /// <summary>Bearer token <c>/metrics</c> requires; required when Host is not loopback (the probes stay open).</summary>
        public string Token { get; init; } = "";

        public bool OnLoopback => IsLoopback(Host);
    }

    private static bool IsLoopback(string host) => host is "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    public sealed record TelemetrySettings
    {
        /// <summary>OTLP/HTTP endpoint (e.g. http://collector:4318); empty: nothing is exported.</summary>
        public string OtlpEndpoint { get; init; } = "";
        public string ServiceName { get; init; } = "ut-silo";
        public int ExportIntervalMs { get; init; } = 5000;
    }

    /// <summary>Reads and checks a configuration. Errors are ArgumentException with one line naming the
    /// key and the fix.</summary>
    public static SiloConfig Load(string path, IEnumerable<string>? overrides = null, string environmentPrefix = "UT__")
    {
        if (!File.Exists(path)) throw new ArgumentException($"--config {path}: file not found (the repository's silo.json is the embedded default)");
        var full = Path.GetFullPath(path);
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder()
                .AddJsonFile(full, optional: false)
                .AddEnvironmentVariables(environmentPrefix)
                .AddCommandLine(overrides?.ToArray() ?? [])
                .Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            throw new ArgumentException($"{path}: not valid JSON ({e.InnerException?.Message ?? e.Message})");
        }
        // Models was one prior + VQ-GAN before models had names.
        if (root.GetSection("Models:Prior").Exists() || root.GetSection("Models:VqGan").Exists())
            throw new ArgumentException($"{path}: Models is a list of named models now: write \"Models\": [ {{ \"Name\": \"terrain\", \"Prior\": \"...\", \"VqGan\": \"...\" }} ] (overrides: " +
                $"Models:0:Prior=...)");
        SiloConfig config;
        try
        {
            config = root.Get<SiloConfig>(o => o.ErrorOnUnknownConfiguration = true) ?? new SiloConfig();
        }
        catch (InvalidOperationException e)
        {
            // The binder names unknown keys after a long preamble; say just that.
            const string unknown = "were not found on the instance of ";
            var message = e.Message.Split('\n')[0].TrimEnd('.');
            if (message.IndexOf(unknown, StringComparison.Ordinal) is var at and >= 0 && message.IndexOf(": ", at, StringComparison.Ordinal) is var names and >= 0)
                message = $"unknown setting {message[(names + 2)..]}";
            // A value its type's converter refused (a backbone's name): the converter's own line says what is valid,
            // the setting called by its key.
            if (e.InnerException is ArgumentException bad && message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
            {
                var key = message[(message.IndexOf(" at '", StringComparison.Ordinal) + 5)..message.IndexOf("' to type", StringComparison.Ordinal)];
                message = bad is SettingException s ? s.Describe(name => name == s.Setting ? key : name) : $"{key}: {bad.Message}";
            }
            throw new ArgumentException($"{path}: {message} (see silo.schema.json)");
        }
        return config.Resolve(Path.GetDirectoryName(full)!).Validate(path);
    }

    private SiloConfig Resolve(string dir)
    {
        string Abs(string p) => string.IsNullOrEmpty(p) ? p : Path.GetFullPath(p, dir);
        return this with
        {
            StateDirectory = Abs(StateDirectory),
            Models = [.. Models.Select(m => (m with { Prior = Abs(m.Prior), VqGan = Abs(m.VqGan) }).Bundled())],
            Cluster = Cluster with
            {
                RedisPasswordFile = Abs(Cluster.RedisPasswordFile),
                Tls = new TlsSettings { CaFile = Abs(Cluster.Tls.CaFile), CertificateFile = Abs(Cluster.Tls.CertificateFile), KeyFile = Abs(Cluster.Tls.KeyFile) },
            },
            Roles = Roles.Select(r => r.Trim().ToLowerInvariant()).Distinct().ToArray(),
            Trainer = Trainer with
            {
                Prior = Trainer.Prior is { } p ? p with { Latents = Abs(p.Latents), OutDir = Abs(p.OutDir) } : null,
                PublishVqGan = Abs(Trainer.PublishVqGan),
                VqGan = Trainer.VqGan is { } v ? v with { Data = Abs(v.Data), OutDir = Abs(v.OutDir) } : null,
            },
        };
    }

    private SiloConfig Validate(string path)
    {
        if (Roles.Length == 0) throw new ArgumentException($"{path}: Roles is empty: list some of {string.Join(", ", KnownRoles)}");
        foreach (var role in Roles)
            if (!KnownRoles.Contains(role)) throw new ArgumentException($"{path}: unknown role '{role}' in Roles (expected {string.Join(", ", KnownRoles)})");
        if ((Has(SiloRoles.Window) || Has(SiloRoles.Canvas)) && Models.Length == 0)
            throw new ArgumentException($"{path}: Models is empty: list the models the silo serves, e.g. \"Models\": [ {{ \"Name\": \"terrain\" }} ] (the bundled one)");
        for (var i = 0; i < Models.Length; i++)
        {
            var (m, key) = (Models[i], $"Models:{i}");
            if (!ModelEntry.ValidName(m.Name)) throw new ArgumentException($"{path}: {key}:Name: {ModelEntry.NameRule(m.Name)}");
            if (Models.Take(i).Any(o => o.Name == m.Name)) throw new ArgumentException($"{path}: {key}:Name '{m.Name}' is listed twice: give each model its own name");
            if (!Enum.TryParse<InferencePrecision>(m.Precision, ignoreCase: true, out _))
                throw new ArgumentException($"{path}: {key}:Precision '{m.Precision}': expected Float32 or BFloat16");
            if (!(Has(SiloRoles.Window) || Has(SiloRoles.Canvas))) continue;
            RequireFile(m.Prior, $"{key}:Prior ({m.Name})");
            // Window silos decode finished canvases; canvas silos load no model beyond reading the prior's shape.
            if (Has(SiloRoles.Window)) RequireFile(m.VqGan, $"{key}:VqGan ({m.Name})");
            if (Has(SiloRoles.Window) && Window.MemoryBudgetMb > 0 && m.Entry().Bytes(Window.Replicas, withVqGan: true) is var bytes && bytes > Window.MemoryBudgetMb << 20)
                throw new ArgumentException($"{path}: model {m.Name} takes {(bytes + (1 << 20) - 1) >> 20} MB on this silo ({Window.Replicas} replica(s) and its VQ-GAN), more than " +
                    $"Window:MemoryBudgetMb {Window.MemoryBudgetMb}: raise the budget");
        }
        foreach (var problem in Cluster.Problems().Concat(Window.Problems()).Concat(Canvas.Problems()))
            throw new ArgumentException($"{path}: {problem}");
        if (Cluster.Provider == "localhost" && Has(SiloRoles.Canvas) && !Has(SiloRoles.Window))
            throw new ArgumentException($"{path}: the canvas role needs window replicas: add the window role, or use Cluster:Provider redis with window silos");
        if (Cluster.Provider == "localhost" && Has(SiloRoles.Window) && !Has(SiloRoles.Canvas))
            throw new ArgumentException($"{path}: a window silo on Cluster:Provider localhost serves nobody: use Cluster:Provider redis, or add the canvas role");
        if (Has(SiloRoles.Gateway) && !Gateway.OnLoopback && string.IsNullOrEmpty(Gateway.Token))
            throw new ArgumentException($"{path}: Gateway:Host {Gateway.Host} is off loopback: set Gateway:Token (e.g. UT__Gateway__Token) so the API and dashboard require it");
        if (Gateway.Port is < 0 or > 65535) throw new ArgumentException($"{path}: Gateway:Port {Gateway.Port} is not a port");
        if (Ops.Port is < 0 or > 65535) throw new ArgumentException($"{path}: Ops:Port {Ops.Port} is not a port (0: no ops port)");
        if (Ops.Port > 0 && Has(SiloRoles.Gateway) && Ops.Port == Gateway.Port)
            throw new ArgumentException($"{path}: Ops:Port and Gateway:Port are both {Ops.Port}: give the ops port another one");
        if (Ops.Port > 0 && !Ops.OnLoopback && string.IsNullOrEmpty(Ops.Token))
            throw new ArgumentException($"{path}: Ops:Host {Ops.Host} is off loopback: set Ops:Token (e.g. UT__Ops__Token) so /metrics requires it");
        if (!string.IsNullOrEmpty(Telemetry.OtlpEndpoint) && !(Uri.TryCreate(Telemetry.OtlpEndpoint, UriKind.Absolute, out var otlp) && otlp.Scheme is "http" or "https"))
            throw new ArgumentException($"{path}: Telemetry:OtlpEndpoint '{Telemetry.OtlpEndpoint}' is not an http(s) URI");
        if (Has(SiloRoles.Trainer))
        {
            if (Trainer.MinRanks < 1 || Trainer.MaxRanks < Trainer.MinRanks)
                throw new ArgumentException($"{path}: Trainer:MinRanks {Trainer.MinRanks} and MaxRanks {Trainer.MaxRanks}: expected 1 <= MinRanks <= MaxRanks");
            if (Trainer.MaxRanks > 1 && Trainer.StorePort is < 1 or > 65535) throw new ArgumentException($"{path}: Trainer:StorePort {Trainer.StorePort}: expected 1 to 65535");
            var batch = Trainer.Kind == "prior" ? Trainer.Prior?.Batch : Trainer.VqGan?.Batch;
            if (batch is { } b && Enumerable.Range(Trainer.MinRanks, Trainer.MaxRanks - Trainer.MinRanks + 1).FirstOrDefault(w => b % w != 0) is var w and > 0)
                throw new ArgumentException($"{path}: Trainer batch {b} does not split among {w} ranks: the global batch must be a multiple of every rank count from MinRanks to MaxRanks");
            switch (Trainer.Kind)
            {
                case "prior" when Trainer.Prior is { } p:
                    RequireFile(p.Latents, "Trainer:Prior:Latents");
                    if (Trainer.PublishAs.Length > 0 && !ModelEntry.ValidName(Trainer.PublishAs)) throw new ArgumentException($"{path}: Trainer:PublishAs: {ModelEntry.NameRule(Trainer.PublishAs)}");
                    if (Trainer.PublishVqGan.Length > 0) RequireFile(Trainer.PublishVqGan, "Trainer:PublishVqGan");
                    break;
                case "vqgan" when Trainer.VqGan is { } v:
                    if (!Directory.Exists(v.Data)) throw new ArgumentException($"Trainer:VqGan:Data: folder {v.Data} not found");
                    break;
                default:
                    throw new ArgumentException($"{path}: the trainer role needs Trainer:Kind prior with a Trainer:Prior section, or vqgan with Trainer:VqGan");
            }
        }
        return this;
    }

    private static void RequireFile(string path, string key)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"{key} is not set: give the model file's path");
        if (!File.Exists(path)) throw new ArgumentException($"{key}: file {path} not found");
    }
}
