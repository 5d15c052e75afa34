namespace UnleashingTransformers.Torch;

/// <summary>An error raised by libtorch (its own message) or by the binding; the process keeps running.</summary>
public sealed class TorchException(string message) : Exception(message);
