namespace UnleashingTransformers.Models.Transformer;

/// <summary>Arithmetic of the inference path's matrix products.</summary>
public enum InferencePrecision
{
    /// <summary>float32 throughout: the reference's numbers (to float rounding).</summary>
    Float32,
    /// <summary>bfloat16 matrix products through oneDNN (2.5-4x faster on CPUs with avx512_bf16);
    /// the residual stream, layer norms and softmaxes stay float32. Logits differ slightly (bench/).</summary>
    BFloat16,
}
