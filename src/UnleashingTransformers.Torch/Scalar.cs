namespace UnleashingTransformers.Torch;

/// <summary>A number argument (PyTorch's Scalar): integral, floating or boolean, kept as given.</summary>
public readonly struct Scalar
{
    internal readonly double D;
    internal readonly long L;
    internal readonly int Kind; // 0 float, 1 int, 2 bool

    private Scalar(double d, long l, int kind) { D = d; L = l; Kind = kind; }

    public static implicit operator Scalar(double v) => new(v, 0, 0);
    public static implicit operator Scalar(float v) => new(v, 0, 0);
    public static implicit operator Scalar(long v) => new(0, v, 1);
    public static implicit operator Scalar(int v) => new(0, v, 1);
    public static implicit operator Scalar(bool v) => new(0, v ? 1 : 0, 2);

    public double ToDouble() => Kind == 0 ? D : L;
    public override string ToString() => Kind == 0 ? D.ToString("R") : Kind == 1 ? L.ToString() : (L != 0).ToString();
}
