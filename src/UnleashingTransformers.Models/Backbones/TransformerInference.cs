using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// A read-only, sampling-speed view of a <see cref="Transformer"/>'s weights. The same function as
/// <see cref="Transformer.forward"/> with fewer copies and passes: key/query/value fused into one
/// product (the 1/sqrt(head size) scale folded into the query weights), optional bfloat16 products,
/// and the output head evaluated only at the positions whose distributions are wanted. Build it after
/// the weights are final (or call <see cref="Refresh"/>); it never changes the model.
/// </summary>
public sealed class TransformerInference : IDisposable
{
    private sealed record LayerWeights(Tensor Qkv, Tensor QkvBias, Tensor Proj, Tensor ProjBias,
        Tensor Fc1, Tensor Fc1Bias, Tensor Fc2, Tensor Fc2Bias, Block Block);

    private readonly Transformer _model;
    private readonly List<LayerWeights> _layers = new();
    private Tensor _head = null!;
    private readonly List<Tensor> _owned = new();

    public InferencePrecision Precision { get; }
    public TransformerConfig Config => _model.Config;

    public TransformerInference(Transformer model, InferencePrecision precision = InferencePrecision.Float32)
    {
        _model = model;
        Precision = precision;
        Refresh();
    }

    private ScalarType ComputeType => Precision == InferencePrecision.BFloat16 ? bfloat16 : float32;

    /// <summary>Rebuilds the fused weights from the model's current parameters.</summary>
    public void Refresh()
    {
        ReleaseWeights();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hs = Config.Emb / Config.Heads;
        var scale = 1.0 / Math.Sqrt(hs);
        Tensor Keep(Tensor t)
        {
            var kept = t.to(ComputeType).contiguous().DetachFromDisposeScope();
            _owned.Add(kept);
            return kept;
        }
        foreach (var block in _model.blocks)
        {
            var a = block.attn;
            var w = cat(new[] { a.query.weight * scale, a.key.weight.alias(), a.value.weight.alias() }, 0);
            var b = cat(new[] { a.query.bias! * scale, a.key.bias!.alias(), a.value.bias!.alias() }, 0);
            var fc1 = (nn.Linear)block.mlp[0];
            var fc2 = (nn.Linear)block.mlp[2];
            _layers.Add(new LayerWeights(Keep(w), Keep(b), Keep(a.proj.weight), Keep(a.proj.bias!),
                Keep(fc1.weight), Keep(fc1.bias!), Keep(fc2.weight), Keep(fc2.bias!), block));
        }
        _head = Keep(_model.head.weight);
    }

    /// <summary>Final hidden states (B, L, D), float32, after ln_f.</summary>
    public Tensor Hidden(Tensor idx)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (B, T) = (idx.size(0), idx.size(1));
        var C = (long)Config.Emb;
        var nh = (long)Config.Heads;
        var x = F.embedding(idx, _model.tok_emb.weight) + _model.pos_emb[.., ..(int)T];
        foreach (var l in _layers)
        {
            using var layerScope = NewDisposeScope();
            var h = l.Block.ln1.forward(x).to(ComputeType);
            var qkv = F.linear(h, l.Qkv, l.QkvBias).view(B, T, 3, nh, C / nh).permute(2, 0, 3, 1, 4);
            var (q, k, v) = (qkv[0], qkv[1], qkv[2]);                 // (B, nh, T, hs); q pre-scaled
            var att = q.matmul(k.transpose(-2, -1)).softmax(-1, float32).to(ComputeType);
            var y = att.matmul(v).transpose(1, 2).reshape(B, T, C);
            x = x + F.linear(y, l.Proj, l.ProjBias).to(float32);
            var m = F.gelu(F.linear(l.Block.ln2.forward(x).to(ComputeType), l.Fc1, l.Fc1Bias));
            x = (x + F.linear(m, l.Fc2, l.Fc2Bias).to(float32)).MoveToOuterDisposeScope();
        }
        return _model.ln_f.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Logits (B, L, K) at every position, float32.</summary>
    public Tensor Logits(Tensor idx)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return F.linear(Hidden(idx).to(ComputeType), _head).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Probabilities (temperature 1) over the codebook at selected positions: row i of the result is
    /// position <paramref name="positions"/>[i] of sequence <paramref name="rows"/>[i] of
    /// <paramref name="idx"/>. Shape (M, K), float32, on the model's device.
    /// </summary>
    public Tensor ProbabilitiesAt(Tensor idx, Tensor rows, Tensor positions)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = Hidden(idx);
        var picked = hidden.index(rows, positions);                        // (M, D)
        var logits = F.linear(picked.to(ComputeType), _head);
        return logits.softmax(-1, float32).MoveToOuterDisposeScope();
    }

    private void ReleaseWeights()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        _layers.Clear();
    }

    public void Dispose() => ReleaseWeights();
}

/// <summary>The transformer prior as a denoiser, through its inference path.</summary>
public sealed class TransformerDenoiser(TransformerInference model, Device device) : ITokenDenoiser
{
    public int Length => model.Config.BlockSize;
    public int CodebookSize => model.Config.CodebookSize;
    public int MaskId => model.Config.MaskId;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        if (wanted.Count == 0) return Array.Empty<float>();
        using var scope = NewDisposeScope();
        var idx = from_array(tokens, rows, Length).to(device);
        var r = from_array<long>(wanted.Select(w => (long)w.Row).ToArray(), wanted.Count).to(device);
        var p = from_array<long>(wanted.Select(w => (long)w.Position).ToArray(), wanted.Count).to(device);
        return model.ProbabilitiesAt(idx, r, p).ToArray<float>();
    }
}
