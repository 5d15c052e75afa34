namespace UnleashingTransformers.Grid.Contracts;

/// <summary>Which model a window or tile is meant for: its name in the grid's model list and its weights' version
/// (the first 16 hex digits of the prior file's SHA-256). A replica serves a version it can find under that name
/// (silo.json's, or one published by a trainer), or refuses naming both.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelKey([property: Id(0)] string Name, [property: Id(1)] string Version)
{
    public override string ToString() => $"{Name}@{Version}";
}
