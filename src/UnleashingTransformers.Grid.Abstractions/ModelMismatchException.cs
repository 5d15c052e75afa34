namespace UnleashingTransformers.Grid.Contracts;

/// <summary>A replica was asked for other weights than it holds; the message names both versions.</summary>
[GenerateSerializer]
public sealed class ModelMismatchException : Exception
{
    public ModelMismatchException(string message) : base(message) { }
}
