namespace UnleashingTransformers.Grid;

/// <summary>What a silo can be (silo.json's <c>Roles</c>): the grain classes it hosts, as the cluster manifest tells other silos.</summary>
public static class SiloRoles
{
    /// <summary>Window replica grains: the models' forward passes and tile decodes.</summary>
    public const string Window = "window";
    /// <summary>Canvas job grains and the job index: jobs' step loops (no model loaded).</summary>
    public const string Canvas = "canvas";
    /// <summary>The trainer grain: a checkpointed training run.</summary>
    public const string Trainer = "trainer";
    /// <summary>The HTTP API, the web page and the dashboard (and the job index).</summary>
    public const string Gateway = "gateway";

    public static readonly string[] All = [Window, Canvas, Trainer, Gateway];
}
