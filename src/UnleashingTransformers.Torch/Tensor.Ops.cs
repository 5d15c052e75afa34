using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

// The Tensor methods of PyTorch, each a call of the ATen operator of the same name. Arguments follow
// the operator's schema order; trailing ones left out take the schema's defaults.
public partial class Tensor
{
    private static Op O(string name, string overload = "") => new(name, overload);

    // ---- conversion and copies ----
    private static readonly Op s_to_dtype = O("aten::to", "dtype"), s_to_device = O("aten::to", "device"),
        s_contiguous = O("aten::contiguous"), s_is_contiguous_fmt = O("aten::is_contiguous", "memory_format"), s_clone = O("aten::clone"), s_detach = O("aten::detach"),
        s_copy_ = O("aten::copy_"), s_fill_ = O("aten::fill_", "Scalar"), s_zero_ = O("aten::zero_");

    public Tensor to(ScalarType dtype) => s_to_dtype.Begin().T(this).DType(dtype).Call();

    public Tensor to(Device device, ScalarType? dtype = null, bool non_blocking = false) =>
        s_to_device.Begin().T(this).Dev(device).DType(dtype ?? this.dtype).B(non_blocking).Call();

    public Tensor cpu() => to(Device.CPU);
    public Tensor cuda(int index = 0) => to(new Device(DeviceType.CUDA, index));
    public Tensor @float() => to(ScalarType.Float32);
    public Tensor @double() => to(ScalarType.Float64);
    public Tensor half() => to(ScalarType.Float16);
    public Tensor bfloat16() => to(ScalarType.BFloat16);
    public Tensor @long() => to(ScalarType.Int64);
    public Tensor @int() => to(ScalarType.Int32);
    public Tensor @bool() => to(ScalarType.Bool);
    public Tensor contiguous() => s_contiguous.Begin().T(this).Call();
    /// <summary>A copy (or this) in the given layout: ChannelsLast keeps (N, C, H, W) shape with NHWC
    /// strides, which oneDNN convolutions on CPU run faster.</summary>
    public Tensor contiguous(MemoryFormat format) => s_contiguous.Begin().T(this).I((long)format).Call();
    public bool is_contiguous(MemoryFormat format) => s_is_contiguous_fmt.Begin().T(this).I((long)format).CallBool();
    public Tensor clone() => s_clone.Begin().T(this).Call();
    public Tensor detach() => s_detach.Begin().T(this).Call();
    public Tensor copy_(Tensor src, bool non_blocking = false) { s_copy_.Begin().T(this).T(src).B(non_blocking).CallInPlace(); return this; }
    public Tensor fill_(Scalar value) { s_fill_.Begin().T(this).S(value).CallInPlace(); return this; }
    public Tensor zero_() { s_zero_.Begin().T(this).CallInPlace(); return this; }

    // ---- shape ----
    private static readonly Op s_view = O("aten::view"), s_reshape = O("aten::reshape"), s_permute = O("aten::permute"),
        s_transpose = O("aten::transpose", "int"), s_squeeze = O("aten::squeeze"), s_squeeze_dim = O("aten::squeeze", "dim"),
        s_unsqueeze = O("aten::unsqueeze"), s_expand = O("aten::expand"), s_repeat = O("aten::repeat"), s_flip = O("aten::flip"),
        s_narrow = O("aten::narrow"), s_select = O("aten::select", "int"), s_slice = O("aten::slice", "Tensor"),
        s_index_select = O("aten::index_select"), s_gather = O("aten::gather"), s_scatter_src = O("aten::scatter", "src"),
        s_scatter_value = O("aten::scatter", "value"), s_scatter_add = O("aten::scatter_add"),
        s_masked_fill = O("aten::masked_fill", "Scalar"), s_roll = O("aten::roll"), s_masked_fill_ = O("aten::masked_fill_", "Scalar"),
        s_masked_select = O("aten::masked_select"), s_flatten = O("aten::flatten", "using_ints"),
        s_chunk = O("aten::chunk"), s_split = O("aten::split", "Tensor"), s_split_sizes = O("aten::split_with_sizes"),
        s_unbind = O("aten::unbind", "int"), s_index = O("aten::index", "Tensor"), s_index_put_ = O("aten::index_put_"),
        s_as_strided = O("aten::as_strided"), s_t = O("aten::t"), s_tril = O("aten::tril"), s_triu = O("aten::triu");

    public Tensor view(params long[] shape) => s_view.Begin().T(this).L(shape).Call();
    public Tensor reshape(params long[] shape) => s_reshape.Begin().T(this).L(shape).Call();
    public Tensor permute(params long[] dims) => s_permute.Begin().T(this).L(dims).Call();
    public Tensor transpose(long dim0, long dim1) => s_transpose.Begin().T(this).I(dim0).I(dim1).Call();
    public Tensor t() => s_t.Begin().T(this).Call();
    public Tensor squeeze() => s_squeeze.Begin().T(this).Call();
    public Tensor squeeze(long dim) => s_squeeze_dim.Begin().T(this).I(dim).Call();
    public Tensor unsqueeze(long dim) => s_unsqueeze.Begin().T(this).I(dim).Call();
    public Tensor expand(params long[] shape) => s_expand.Begin().T(this).L(shape).Call();
    public Tensor expand_as(Tensor other) => expand(other.shape);
    public Tensor view_as(Tensor other) => view(other.shape);
    public Tensor repeat(params long[] repeats) => s_repeat.Begin().T(this).L(repeats).Call();
    public Tensor flip(params long[] dims) => s_flip.Begin().T(this).L(dims).Call();
    public Tensor narrow(long dim, long start, long length) => s_narrow.Begin().T(this).I(dim).I(start).I(length).Call();
    public Tensor select(long dim, long index) => s_select.Begin().T(this).I(dim).I(index).Call();
    public Tensor slice(long dim, long? start, long? end, long step = 1) => s_slice.Begin().T(this).I(dim).I(start).I(end).I(step).Call();
    public Tensor index_select(long dim, Tensor index) => s_index_select.Begin().T(this).I(dim).T(index).Call();
    public Tensor gather(long dim, Tensor index) => s_gather.Begin().T(this).I(dim).T(index).Call();
    public Tensor scatter(long dim, Tensor index, Tensor src) => s_scatter_src.Begin().T(this).I(dim).T(index).T(src).Call();
    public Tensor scatter(long dim, Tensor index, Scalar value) => s_scatter_value.Begin().T(this).I(dim).T(index).S(value).Call();
    public Tensor scatter_add(long dim, Tensor index, Tensor src) => s_scatter_add.Begin().T(this).I(dim).T(index).T(src).Call();
    public Tensor roll(long[] shifts, long[] dims) => s_roll.Begin().T(this).L(shifts).L(dims).Call();
    public Tensor masked_fill(Tensor mask, Scalar value) => s_masked_fill.Begin().T(this).T(mask).S(value).Call();
    public Tensor masked_fill_(Tensor mask, Scalar value) { s_masked_fill_.Begin().T(this).T(mask).S(value).CallInPlace(); return this; }
    public Tensor masked_select(Tensor mask) => s_masked_select.Begin().T(this).T(mask).Call();
    public Tensor flatten(long start_dim = 0, long end_dim = -1) => s_flatten.Begin().T(this).I(start_dim).I(end_dim).Call();
    public Tensor[] chunk(long chunks, long dim = 0) => s_chunk.Begin().T(this).I(chunks).I(dim).CallList();
    public Tensor[] split(long split_size, long dim = 0) => s_split.Begin().T(this).I(split_size).I(dim).CallList();
    public Tensor[] split(long[] split_sizes, long dim = 0) => s_split_sizes.Begin().T(this).L(split_sizes).I(dim).CallList();
    public Tensor[] unbind(long dim = 0) => s_unbind.Begin().T(this).I(dim).CallList();
    /// <summary>Advanced indexing (PyTorch's x[idx0, idx1, ...] with tensors; null = ':').</summary>
    public Tensor index(params Tensor?[] indices) => s_index.Begin().T(this).TsOpt(indices).Call();
    public Tensor index_put_(Tensor?[] indices, Tensor values, bool accumulate = false)
    {
        s_index_put_.Begin().T(this).TsOpt(indices).T(values).B(accumulate).CallInPlace();
        return this;
    }
    public Tensor as_strided(long[] size, long[] stride, long? storage_offset = null) =>
        s_as_strided.Begin().T(this).L(size).L(stride).I(storage_offset).Call();
    public Tensor tril(long diagonal = 0) => s_tril.Begin().T(this).I(diagonal).Call();
    public Tensor triu(long diagonal = 0) => s_triu.Begin().T(this).I(diagonal).Call();

    // ---- elementwise math ----
    private static readonly Op s_add = O("aten::add", "Tensor"), s_add_s = O("aten::add", "Scalar"),
        s_sub = O("aten::sub", "Tensor"), s_sub_s = O("aten::sub", "Scalar"), s_rsub_s = O("aten::rsub", "Scalar"),
        s_mul = O("aten::mul", "Tensor"), s_mul_s = O("aten::mul", "Scalar"),
        s_div = O("aten::div", "Tensor"), s_div_s = O("aten::div", "Scalar"), s_div_mode = O("aten::div", "Tensor_mode"),
        s_add_ = O("aten::add_", "Tensor"), s_add_s_ = O("aten::add_", "Scalar"), s_sub_ = O("aten::sub_", "Tensor"),
        s_mul_ = O("aten::mul_", "Tensor"), s_mul_s_ = O("aten::mul_", "Scalar"), s_div_ = O("aten::div_", "Tensor"),
        s_div_s_ = O("aten::div_", "Scalar"), s_addcmul_ = O("aten::addcmul_"), s_addcdiv_ = O("aten::addcdiv_"),
        s_pow = O("aten::pow", "Tensor_Tensor"), s_pow_s = O("aten::pow", "Tensor_Scalar"), s_rpow = O("aten::pow", "Scalar"),
        s_sqrt = O("aten::sqrt"), s_rsqrt = O("aten::rsqrt"), s_exp = O("aten::exp"), s_log = O("aten::log"),
        s_log1p = O("aten::log1p"), s_abs = O("aten::abs"), s_neg = O("aten::neg"), s_sign = O("aten::sign"),
        s_clamp = O("aten::clamp"), s_clamp_ = O("aten::clamp_"), s_floor = O("aten::floor"), s_round = O("aten::round"),
        s_reciprocal = O("aten::reciprocal"), s_square = O("aten::square"), s_sin = O("aten::sin"), s_cos = O("aten::cos"),
        s_maximum = O("aten::maximum"), s_minimum = O("aten::minimum"), s_lerp_ = O("aten::lerp_", "Scalar"),
        s_sqrt_ = O("aten::sqrt_"), s_remainder = O("aten::remainder", "Scalar");

    public Tensor add(Tensor other, Scalar? alpha = null) => s_add.Begin().T(this).T(other).S(alpha ?? 1).Call();
    public Tensor add(Scalar other) => s_add_s.Begin().T(this).S(other).Call();
    public Tensor sub(Tensor other, Scalar? alpha = null) => s_sub.Begin().T(this).T(other).S(alpha ?? 1).Call();
    public Tensor sub(Scalar other) => s_sub_s.Begin().T(this).S(other).Call();
    public Tensor mul(Tensor other) => s_mul.Begin().T(this).T(other).Call();
    public Tensor mul(Scalar other) => s_mul_s.Begin().T(this).S(other).Call();
    public Tensor div(Tensor other) => s_div.Begin().T(this).T(other).Call();
    public Tensor div(Scalar other) => s_div_s.Begin().T(this).S(other).Call();
    /// <summary>Division with rounding: "trunc" or "floor".</summary>
    public Tensor div(Tensor other, string rounding_mode) => s_div_mode.Begin().T(this).T(other).Str(rounding_mode).Call();
    public Tensor remainder(Scalar other) => s_remainder.Begin().T(this).S(other).Call();
    public Tensor add_(Tensor other, Scalar? alpha = null) { s_add_.Begin().T(this).T(other).S(alpha ?? 1).CallInPlace(); return this; }
    public Tensor add_(Scalar other) { s_add_s_.Begin().T(this).S(other).CallInPlace(); return this; }
    public Tensor sub_(Tensor other, Scalar? alpha = null) { s_sub_.Begin().T(this).T(other).S(alpha ?? 1).CallInPlace(); return this; }
    public Tensor mul_(Tensor other) { s_mul_.Begin().T(this).T(other).CallInPlace(); return this; }
    public Tensor mul_(Scalar other) { s_mul_s_.Begin().T(this).S(other).CallInPlace(); return this; }
    public Tensor div_(Tensor other) { s_div_.Begin().T(this).T(other).CallInPlace(); return this; }
    public Tensor div_(Scalar other) { s_div_s_.Begin().T(this).S(other).CallInPlace(); return this; }
    public Tensor addcmul_(Tensor t1, Tensor t2, Scalar? value = null) { s_addcmul_.Begin().T(this).T(t1).T(t2).S(value ?? 1).CallInPlace(); return this; }
    public Tensor addcdiv_(Tensor t1, Tensor t2, Scalar? value = null) { s_addcdiv_.Begin().T(this).T(t1).T(t2).S(value ?? 1).CallInPlace(); return this; }
    public Tensor lerp_(Tensor end, Scalar weight) { s_lerp_.Begin().T(this).T(end).S(weight).CallInPlace(); return this; }
    public Tensor sqrt_() { s_sqrt_.Begin().T(this).CallInPlace(); return this; }
    public Tensor pow(Tensor exponent) => s_pow.Begin().T(this).T(exponent).Call();
    public Tensor pow(Scalar exponent) => s_pow_s.Begin().T(this).S(exponent).Call();
    public Tensor sqrt() => s_sqrt.Begin().T(this).Call();
    public Tensor rsqrt() => s_rsqrt.Begin().T(this).Call();
    public Tensor exp() => s_exp.Begin().T(this).Call();
    public Tensor log() => s_log.Begin().T(this).Call();
    public Tensor log1p() => s_log1p.Begin().T(this).Call();
    public Tensor abs() => s_abs.Begin().T(this).Call();
    public Tensor neg() => s_neg.Begin().T(this).Call();
    public Tensor sign() => s_sign.Begin().T(this).Call();
    public Tensor floor() => s_floor.Begin().T(this).Call();
    public Tensor round() => s_round.Begin().T(this).Call();
    public Tensor reciprocal() => s_reciprocal.Begin().T(this).Call();
    public Tensor square() => s_square.Begin().T(this).Call();
    public Tensor sin() => s_sin.Begin().T(this).Call();
    public Tensor cos() => s_cos.Begin().T(this).Call();
    public Tensor clamp(Scalar? min = null, Scalar? max = null) => s_clamp.Begin().T(this).S(min).S(max).Call();
    public Tensor clamp_(Scalar? min = null, Scalar? max = null) { s_clamp_.Begin().T(this).S(min).S(max).CallInPlace(); return this; }
    public Tensor clamp_min(Scalar min) => clamp(min, null);
    public Tensor maximum(Tensor other) => s_maximum.Begin().T(this).T(other).Call();
    public Tensor minimum(Tensor other) => s_minimum.Begin().T(this).T(other).Call();

    // ---- linear algebra ----
    private static readonly Op s_matmul = O("aten::matmul"), s_mm = O("aten::mm"), s_bmm = O("aten::bmm"),
        s_addmm = O("aten::addmm"), s_baddbmm = O("aten::baddbmm");

    public Tensor matmul(Tensor other) => s_matmul.Begin().T(this).T(other).Call();
    public Tensor mm(Tensor other) => s_mm.Begin().T(this).T(other).Call();
    public Tensor bmm(Tensor other) => s_bmm.Begin().T(this).T(other).Call();
    /// <summary>beta * self + alpha * (m1 @ m2).</summary>
    public Tensor addmm(Tensor m1, Tensor m2, Scalar? beta = null, Scalar? alpha = null) =>
        s_addmm.Begin().T(this).T(m1).T(m2).S(beta ?? 1).S(alpha ?? 1).Call();
    public Tensor baddbmm(Tensor b1, Tensor b2, Scalar? beta = null, Scalar? alpha = null) =>
        s_baddbmm.Begin().T(this).T(b1).T(b2).S(beta ?? 1).S(alpha ?? 1).Call();

    // ---- reductions ----
    private static readonly Op s_sum = O("aten::sum"), s_sum_dim = O("aten::sum", "dim_IntList"),
        s_mean = O("aten::mean"), s_mean_dim = O("aten::mean", "dim"), s_var = O("aten::var", "correction"),
        s_std = O("aten::std", "correction"), s_max = O("aten::max"), s_max_dim = O("aten::max", "dim"),
        s_min = O("aten::min"), s_min_dim = O("aten::min", "dim"), s_argmax = O("aten::argmax"), s_argmin = O("aten::argmin"),
        s_logsumexp = O("aten::logsumexp"), s_cumsum = O("aten::cumsum"), s_topk = O("aten::topk"),
        s_sort = O("aten::sort"), s_argsort = O("aten::argsort"), s_any = O("aten::any"), s_any_dim = O("aten::any", "dim"), s_all = O("aten::all"), s_trace = O("aten::trace"),
            s_diagonal = O("aten::diagonal"),
        s_prod = O("aten::prod"), s_norm = O("aten::linalg_vector_norm");

    // No dtype parameter here: C# converts a literal 0 to any enum, so sum(0) would bind to it.
    public Tensor sum() => s_sum.Begin().T(this).Call();
    public Tensor sum(long dim, bool keepdim = false, ScalarType? dtype = null) => sum(new[] { dim }, keepdim, dtype);
    public Tensor sum(long[] dims, bool keepdim = false, ScalarType? dtype = null) => s_sum_dim.Begin().T(this).L(dims).B(keepdim).DType(dtype).Call();
    public Tensor mean() => s_mean.Begin().T(this).Call();
    public Tensor mean(long dim, bool keepdim = false) => mean(new[] { dim }, keepdim);
    public Tensor mean(long[] dims, bool keepdim = false) => s_mean_dim.Begin().T(this).L(dims).B(keepdim).Call();
    /// <summary>Variance; unbiased (Bessel) by default as PyTorch.</summary>
    public Tensor var(long[]? dims = null, bool unbiased = true, bool keepdim = false) =>
        s_var.Begin().T(this).LOpt(dims).I(unbiased ? 1 : 0).B(keepdim).Call();
    public Tensor var(long dim, bool unbiased = true, bool keepdim = false) => var(new[] { dim }, unbiased, keepdim);
    public Tensor std(long[]? dims = null, bool unbiased = true, bool keepdim = false) =>
        s_std.Begin().T(this).LOpt(dims).I(unbiased ? 1 : 0).B(keepdim).Call();
    public Tensor std(long dim, bool unbiased = true, bool keepdim = false) => std(new[] { dim }, unbiased, keepdim);
    public Tensor max() => s_max.Begin().T(this).Call();
    public (Tensor values, Tensor indices) max(long dim, bool keepdim = false) => s_max_dim.Begin().T(this).I(dim).B(keepdim).Call2();
    public Tensor min() => s_min.Begin().T(this).Call();
    public (Tensor values, Tensor indices) min(long dim, bool keepdim = false) => s_min_dim.Begin().T(this).I(dim).B(keepdim).Call2();
    public Tensor argmax(long? dim = null, bool keepdim = false) => s_argmax.Begin().T(this).I(dim).B(keepdim).Call();
    public Tensor argmin(long? dim = null, bool keepdim = false) => s_argmin.Begin().T(this).I(dim).B(keepdim).Call();
    public Tensor logsumexp(long dim, bool keepdim = false) => s_logsumexp.Begin().T(this).L(new[] { dim }).B(keepdim).Call();
    public Tensor logsumexp(long[] dims, bool keepdim = false) => s_logsumexp.Begin().T(this).L(dims).B(keepdim).Call();
    public Tensor cumsum(long dim, ScalarType? dtype = null) => s_cumsum.Begin().T(this).I(dim).DType(dtype).Call();
    public (Tensor values, Tensor indices) topk(long k, long dim = -1, bool largest = true, bool sorted = true) =>
        s_topk.Begin().T(this).I(k).I(dim).B(largest).B(sorted).Call2();
    public (Tensor values, Tensor indices) sort(long dim = -1, bool descending = false) => s_sort.Begin().T(this).I(dim).B(descending).Call2();
    public Tensor argsort(long dim = -1, bool descending = false) => s_argsort.Begin().T(this).I(dim).B(descending).Call();
    public Tensor any() => s_any.Begin().T(this).Call();
    public Tensor any(long dim, bool keepdim = false) => s_any_dim.Begin().T(this).I(dim).B(keepdim).Call();
    public Tensor trace() => s_trace.Begin().T(this).Call();
    public Tensor diagonal(long offset = 0, long dim1 = 0, long dim2 = 1) => s_diagonal.Begin().T(this).I(offset).I(dim1).I(dim2).Call();
    public Tensor all() => s_all.Begin().T(this).Call();
    public Tensor prod() => s_prod.Begin().T(this).Call();
    /// <summary>The p-norm of all elements (torch.linalg.vector_norm).</summary>
    public Tensor norm(double p = 2) => s_norm.Begin().T(this).D(p).Call();

    // ---- comparison and logic ----
    private static readonly Op s_eq = O("aten::eq", "Tensor"), s_eq_s = O("aten::eq", "Scalar"), s_ne = O("aten::ne", "Tensor"),
        s_ne_s = O("aten::ne", "Scalar"), s_lt = O("aten::lt", "Tensor"), s_lt_s = O("aten::lt", "Scalar"),
        s_le = O("aten::le", "Tensor"), s_le_s = O("aten::le", "Scalar"), s_gt = O("aten::gt", "Tensor"),
        s_gt_s = O("aten::gt", "Scalar"), s_ge = O("aten::ge", "Tensor"), s_ge_s = O("aten::ge", "Scalar"),
        s_logical_and = O("aten::logical_and"), s_logical_or = O("aten::logical_or"), s_logical_not = O("aten::logical_not"),
        s_logical_xor = O("aten::logical_xor"), s_isnan = O("aten::isnan"), s_isfinite = O("aten::isfinite"),
        s_equal = O("aten::equal"), s_allclose = O("aten::allclose");

    public Tensor eq(Tensor other) => s_eq.Begin().T(this).T(other).Call();
    public Tensor eq(Scalar other) => s_eq_s.Begin().T(this).S(other).Call();
    public Tensor ne(Tensor other) => s_ne.Begin().T(this).T(other).Call();
    public Tensor ne(Scalar other) => s_ne_s.Begin().T(this).S(other).Call();
    public Tensor lt(Tensor other) => s_lt.Begin().T(this).T(other).Call();
    public Tensor lt(Scalar other) => s_lt_s.Begin().T(this).S(other).Call();
    public Tensor le(Tensor other) => s_le.Begin().T(this).T(other).Call();
    public Tensor le(Scalar other) => s_le_s.Begin().T(this).S(other).Call();
    public Tensor gt(Tensor other) => s_gt.Begin().T(this).T(other).Call();
    public Tensor gt(Scalar other) => s_gt_s.Begin().T(this).S(other).Call();
    public Tensor ge(Tensor other) => s_ge.Begin().T(this).T(other).Call();
    public Tensor ge(Scalar other) => s_ge_s.Begin().T(this).S(other).Call();
    public Tensor logical_and(Tensor other) => s_logical_and.Begin().T(this).T(other).Call();
    public Tensor logical_or(Tensor other) => s_logical_or.Begin().T(this).T(other).Call();
    public Tensor logical_xor(Tensor other) => s_logical_xor.Begin().T(this).T(other).Call();
    public Tensor logical_not() => s_logical_not.Begin().T(this).Call();
    public Tensor isnan() => s_isnan.Begin().T(this).Call();
    public Tensor isfinite() => s_isfinite.Begin().T(this).Call();
    /// <summary>Same shape and elements (torch.equal).</summary>
    public bool equal(Tensor other) => s_equal.Begin().T(this).T(other).CallBool();
    public bool allclose(Tensor other, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false) =>
        s_allclose.Begin().T(this).T(other).D(rtol).D(atol).B(equal_nan).CallBool();

    // ---- activations and sampling ----
    private static readonly Op s_softmax = O("aten::softmax", "int"), s_log_softmax = O("aten::log_softmax", "int"),
        s_sigmoid = O("aten::sigmoid"), s_tanh = O("aten::tanh"), s_relu = O("aten::relu"),
        s_multinomial = O("aten::multinomial"), s_bernoulli = O("aten::bernoulli", "p"), s_uniform_ = O("aten::uniform_"),
        s_normal_ = O("aten::normal_");

    public Tensor softmax(long dim, ScalarType? dtype = null) => s_softmax.Begin().T(this).I(dim).DType(dtype).Call();
    public Tensor log_softmax(long dim, ScalarType? dtype = null) => s_log_softmax.Begin().T(this).I(dim).DType(dtype).Call();
    public Tensor sigmoid() => s_sigmoid.Begin().T(this).Call();
    public Tensor tanh() => s_tanh.Begin().T(this).Call();
    public Tensor relu() => s_relu.Begin().T(this).Call();
    /// <summary>Samples indices from the rows of a (non-negative, unnormalised) probability tensor.</summary>
    public Tensor multinomial(long num_samples, bool replacement = false, Generator? generator = null) =>
        s_multinomial.Begin().T(this).I(num_samples).B(replacement).Gen(generator).Call();
    public Tensor bernoulli(double p, Generator? generator = null) => s_bernoulli.Begin().T(this).D(p).Gen(generator).Call();
    public Tensor uniform_(double from = 0, double to = 1, Generator? generator = null) { s_uniform_.Begin().T(this).D(from).D(to).Gen(generator).CallInPlace(); return this; }
    public Tensor normal_(double mean = 0, double std = 1, Generator? generator = null) { s_normal_.Begin().T(this).D(mean).D(std).Gen(generator).CallInPlace(); return this; }

    // ---- operators ----
    public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
    public static Tensor operator +(Tensor a, Scalar b) => a.add(b);
    public static Tensor operator +(Scalar a, Tensor b) => b.add(a);
    public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
    public static Tensor operator -(Tensor a, Scalar b) => a.sub(b);
    public static Tensor operator -(Scalar a, Tensor b) => s_rsub_s.Begin().T(b).S(a).Call();
    public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
    public static Tensor operator *(Tensor a, Scalar b) => a.mul(b);
    public static Tensor operator *(Scalar a, Tensor b) => b.mul(a);
    public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
    public static Tensor operator /(Tensor a, Scalar b) => a.div(b);
    public static Tensor operator /(Scalar a, Tensor b) => b.reciprocal().mul(a);
    public static Tensor operator -(Tensor a) => a.neg();
    public static Tensor operator %(Tensor a, Scalar b) => a.remainder(b);
    public static Tensor operator <(Tensor a, Tensor b) => a.lt(b);
    public static Tensor operator <(Tensor a, Scalar b) => a.lt(b);
    public static Tensor operator >(Tensor a, Tensor b) => a.gt(b);
    public static Tensor operator >(Tensor a, Scalar b) => a.gt(b);
    public static Tensor operator <=(Tensor a, Tensor b) => a.le(b);
    public static Tensor operator <=(Tensor a, Scalar b) => a.le(b);
    public static Tensor operator >=(Tensor a, Tensor b) => a.ge(b);
    public static Tensor operator >=(Tensor a, Scalar b) => a.ge(b);
    public static Tensor operator &(Tensor a, Tensor b) => a.logical_and(b);
    public static Tensor operator |(Tensor a, Tensor b) => a.logical_or(b);
    public static Tensor operator !(Tensor a) => a.logical_not();

    /// <summary>Scalar ** tensor.</summary>
    internal static Tensor RPow(Scalar a, Tensor b) => s_rpow.Begin().S(a).T(b).Call();

    // ---- slicing: x[i, .., 1..3, TensorIndex.None, idx] ----

    /// <summary>PyTorch-style indexing: integers select, ranges/slices narrow, Ellipsis, None adds a
    /// dimension, tensors index (advanced indexing, applied last, as PyTorch).</summary>
    public Tensor this[params TensorIndex[] indices]
    {
        get => TensorIndex.Apply(this, indices);
        set
        {
            if (TensorIndex.HasTensor(indices))
            {
                var (view, tensorIdx) = TensorIndex.ApplyBasic(this, indices);
                view.index_put_(tensorIdx, value);
            }
            else
            {
                using var view = TensorIndex.Apply(this, indices);
                view.copy_(value);
            }
        }
    }
}
