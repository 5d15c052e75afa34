namespace UnleashingTransformers.Torch;

public enum DeviceType { CPU = 0, CUDA = 1 }

/// <summary>A device as PyTorch names it: "cpu", "cuda", "cuda:1".</summary>
public readonly record struct Device(DeviceType Type, int Index = -1)
{
    public static readonly Device CPU = new(DeviceType.CPU);

    public static Device Parse(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        var colon = s.IndexOf(':');
        var kind = colon < 0 ? s : s[..colon];
        var index = -1;
        if (colon >= 0 && (!int.TryParse(s[(colon + 1)..], out index) || index < 0))
            throw new TorchException($"bad device '{text}': expected cpu, cuda or cuda:N");
        return kind switch
        {
            "cpu" => CPU,
            "cuda" => new Device(DeviceType.CUDA, index),
            _ => throw new TorchException($"bad device '{text}': expected cpu, cuda or cuda:N"),
        };
    }

    public static implicit operator Device(string text) => Parse(text);

    public override string ToString() => Type == DeviceType.CPU ? "cpu" : Index < 0 ? "cuda" : $"cuda:{Index}";
}
