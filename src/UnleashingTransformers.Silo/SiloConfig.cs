using Microsoft.Extensions.Configuration;
using UnleashingTransformers.Grid.Transports.RabbitMq;
using UnleashingTransformers.Models.Training;

namespace UnleashingTransformers.Silo;

/// <summary>
/// A silo's configuration: <c>silo.json</c>, then environment variables <c>UT__Section__Key</c>, then
/// <c>Key=Value</c> arguments (the .NET configuration order; later wins). Relative paths are relative to
/// the config file. <see cref="Load"/> checks everything a user can get wrong before anything starts.
/// </summary>
public sealed record SiloConfig
{
    public static readonly string[] KnownRoles = ["window", "canvas", "trainer", "gateway"];

    public string[] Roles { get; init; } = [];
    public string Device { get; init; } = "cpu";
    /// <summary>libtorch and BLAS threads (0: libtorch's default, BLAS's own).</summary>
    public int Threads { get; init; }
    public string StateDirectory { get; init; } = "state";
    public ModelSettings Models { get; init; } = new();
    public WindowSettings Window { get; init; } = new();
    public CanvasSettings Canvas { get; init; } = new();
    public GatewaySettings Gateway { get; init; } = new();
    public BrokerSettings Broker { get; init; } = new();
    public TelemetrySettings Telemetry { get; init; } = new();
    public TrainerSettings Trainer { get; init; } = new();

    public bool Has(string role) => Roles.Contains(role);

    public sealed record ModelSettings
    {
        public string Prior { get; init; } = "";
        public int Heads { get; init; } = 8;
        public string VqGan { get; init; } = "";
        public string Precision { get; init; } = "Float32";
    }

    public sealed record WindowSettings
    {
        public int Replicas { get; init; } = 1;
        public int MaxBatch { get; init; } = 8;
        public int MaxWaitMs { get; init; } = 2;
        public int Prefetch { get; init; } = 16;
    }

    public sealed record CanvasSettings
    {
        /// <summary>Save each job's canvas every N steps (and when the silo stops).</summary>
        public int PersistEvery { get; init; } = 16;
        public int MaxJobs { get; init; } = 1;
        public int RequestTimeoutSeconds { get; init; } = 60;
        public int Retries { get; init; } = 3;
        public int MaxInFlight { get; init; } = 256;
    }

    public sealed record GatewaySettings
    {
        public string Host { get; init; } = "127.0.0.1";
        public int Port { get; init; } = 8080;
        /// <summary>Largest canvas a job may ask for, in tokens.</summary>
        public long MaxTokens { get; init; } = 128 * 128;
    }

    public sealed record TelemetrySettings
    {
        /// <summary>OTLP/HTTP endpoint (e.g. http://collector:4318); empty: nothing is exported.</summary>
        public string OtlpEndpoint { get; init; } = "";
        public string ServiceName { get; init; } = "ut-silo";
        public int ExportIntervalMs { get; init; } = 5000;
    }

    public sealed record TrainerSettings
    {
        /// <summary>prior or vqgan.</summary>
        public string Kind { get; init; } = "prior";
        public PriorTrainingOptions? Prior { get; init; }
        public VqGanTrainingOptions? VqGan { get; init; }
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
            Models = Models with { Prior = Abs(Models.Prior), VqGan = Abs(Models.VqGan) },
            Broker = Broker with { TlsCaFile = Broker.TlsCaFile is { } ca ? Abs(ca) : null },
            Roles = Roles.Select(r => r.Trim().ToLowerInvariant()).Distinct().ToArray(),
            Trainer = Trainer with
            {
                Prior = Trainer.Prior is { } p ? p with { Latents = Abs(p.Latents), OutDir = Abs(p.OutDir) } : null,
                VqGan = Trainer.VqGan is { } v ? v with { Data = Abs(v.Data), OutDir = Abs(v.OutDir) } : null,
            },
        };
    }

    private SiloConfig Validate(string path)
    {
        if (Roles.Length == 0) throw new ArgumentException($"{path}: Roles is empty: list some of {string.Join(", ", KnownRoles)}");
        foreach (var role in Roles)
            if (!KnownRoles.Contains(role)) throw new ArgumentException($"{path}: unknown role '{role}' in Roles (expected {string.Join(", ", KnownRoles)})");
        if (Has("window") || Has("canvas") || Has("gateway")) RequireFile(Models.Prior, "Models:Prior");
        if (Has("canvas")) RequireFile(Models.VqGan, "Models:VqGan");
        if (Broker.Configured) Broker.Validate();
        else if (Has("canvas") && !Has("window"))
            throw new ArgumentException($"{path}: the canvas role needs window replicas: add the window role or set Broker:Uri");
        else if (Has("window") && !Has("canvas"))
            throw new ArgumentException($"{path}: a window role without a broker serves nobody: set Broker:Uri or add the canvas role");
        if (Window.Replicas < 1 || Window.MaxBatch < 1 || Window.Prefetch < 1 || Window.MaxWaitMs < 0)
            throw new ArgumentException($"{path}: Window: Replicas, MaxBatch and Prefetch must be >= 1, MaxWaitMs >= 0");
        if (Canvas.PersistEvery < 1 || Canvas.MaxJobs < 1 || Canvas.RequestTimeoutSeconds < 1 || Canvas.MaxInFlight < 1 || Canvas.Retries < 0)
            throw new ArgumentException($"{path}: Canvas: PersistEvery, MaxJobs, RequestTimeoutSeconds and MaxInFlight must be >= 1, Retries >= 0");
        if (Gateway.Port is < 0 or > 65535) throw new ArgumentException($"{path}: Gateway:Port {Gateway.Port} is not a port");
        if (!string.IsNullOrEmpty(Telemetry.OtlpEndpoint) && !(Uri.TryCreate(Telemetry.OtlpEndpoint, UriKind.Absolute, out var otlp) && otlp.Scheme is "http" or "https"))
            throw new ArgumentException($"{path}: Telemetry:OtlpEndpoint '{Telemetry.OtlpEndpoint}' is not an http(s) URI");
        if (!Enum.TryParse<Models.Transformer.InferencePrecision>(Models.Precision, ignoreCase: true, out _))
            throw new ArgumentException($"{path}: Models:Precision '{Models.Precision}': expected Float32 or BFloat16");
        if (Has("trainer"))
        {
            switch (Trainer.Kind)
            {
                case "prior" when Trainer.Prior is { } p:
                    RequireFile(p.Latents, "Trainer:Prior:Latents");
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
