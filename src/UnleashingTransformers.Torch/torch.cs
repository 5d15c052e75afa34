using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

/// <summary>The <c>torch</c> namespace of PyTorch: creation, functions over tensors, runtime settings.</summary>
public static partial class torch
{
    public const ScalarType float32 = ScalarType.Float32, float16 = ScalarType.Float16, bfloat16 = ScalarType.BFloat16,
        float64 = ScalarType.Float64, int64 = ScalarType.Int64, int32 = ScalarType.Int32, int16 = ScalarType.Int16,
        int8 = ScalarType.Int8, uint8 = ScalarType.Byte, @bool = ScalarType.Bool;

    private static Op O(string name, string overload = "") => new(name, overload);

    // ---- runtime ----

    /// <summary>The libtorch version this binding is linked against.</summary>
    public static string version => Native.Str(Native.ut_torch_version());

    /// <summary>libtorch's intra-op threads, as PyTorch's torch.set_num_threads. Matrix products on
    /// CPU run on OpenBLAS's own pool, which this does not change: see <see cref="set_blas_threads"/>.</summary>
    public static void set_num_threads(int n) => Native.ut_set_num_threads(n);

    /// <summary>Threads of the BLAS library's own pool (OpenBLAS pthreads ignores libtorch's count);
    /// false when the linked BLAS offers no such control.</summary>
    public static bool set_blas_threads(int n) => Native.ut_set_blas_threads(n) != 0;
    public static int get_num_threads() => Native.ut_get_num_threads();

    private static readonly object SingleThreadLock = new();
    private static int s_singleThreaded, s_savedBlasThreads;

    /// <summary>
    /// Runs <paramref name="work"/> with libtorch's and the BLAS pool's threads at one, then restores
    /// them. Parallel reductions (GroupNorm, some BLAS products) differ in the last bits with the thread
    /// count; work whose output must be byte-identical on any machine (decoding a canvas) runs under this.
    /// Several threads may be inside at once (a silo decoding tiles on each replica slot): libtorch's count
    /// is the calling thread's (OpenMP's is per thread), the BLAS pool's is the process's, set by the first
    /// thread in and restored by the last one out.
    /// </summary>
    public static T with_single_thread<T>(Func<T> work)
    {
        var torchThreads = Native.ut_get_num_threads();
        Native.ut_set_num_threads(1);
        lock (SingleThreadLock)
        {
            if (s_singleThreaded++ == 0)
            {
                s_savedBlasThreads = Native.ut_get_blas_threads();
                if (s_savedBlasThreads > 1) _ = Native.ut_set_blas_threads(1);   // returns 0 where the BLAS has no control: nothing to undo
            }
        }
        try { return work(); }
        finally
        {
            Native.ut_set_num_threads(torchThreads);
            lock (SingleThreadLock)
            {
                if (--s_singleThreaded == 0 && s_savedBlasThreads > 1) _ = Native.ut_set_blas_threads(s_savedBlasThreads);
            }
        }
    }

    /// <summary>Seeds the default generators of every device.</summary>
    public static void manual_seed(ulong seed) => Native.Check(Native.ut_manual_seed(seed));

    public static class cuda
    {
        public static bool is_available() => Native.ut_cuda_is_available() != 0;
        public static int device_count() => Native.ut_cuda_device_count();
        public static void synchronize(int device = 0) => Native.Check(Native.ut_cuda_synchronize(device));
    }

    /// <summary>Opens a scope that disposes every tensor created in it on this thread when it closes.</summary>
    public static DisposeScope NewDisposeScope() => new();

    // ---- gradient mode ----

    private sealed class GradModeScope : IDisposable
    {
        private readonly bool _previous;
        public GradModeScope(bool enabled)
        {
            _previous = Native.ut_grad_enabled() != 0;
            Native.ut_set_grad_enabled(enabled ? 1 : 0);
        }
        public void Dispose() => Native.ut_set_grad_enabled(_previous ? 1 : 0);
    }

    /// <summary><c>using (torch.no_grad()) { ... }</c>: no graph is recorded on this thread inside.</summary>
    public static IDisposable no_grad() => new GradModeScope(false);
    public static IDisposable enable_grad() => new GradModeScope(true);
    public static bool is_grad_enabled() => Native.ut_grad_enabled() != 0;

    // ---- creation ----
    private static readonly Op s_zeros = O("aten::zeros"), s_ones = O("aten::ones"), s_empty = O("aten::empty", "memory_format"),
        s_full = O("aten::full"), s_arange = O("aten::arange", "start_step"), s_linspace = O("aten::linspace"),
        s_rand = O("aten::rand", "generator"), s_randn = O("aten::randn", "generator"),
        s_randint = O("aten::randint", "low_generator"), s_randperm = O("aten::randperm", "generator"),
        s_zeros_like = O("aten::zeros_like"), s_ones_like = O("aten::ones_like"), s_full_like = O("aten::full_like"),
        s_empty_like = O("aten::empty_like"), s_rand_like = O("aten::rand_like"), s_randn_like = O("aten::randn_like"),
        s_eye = O("aten::eye");

    public static Tensor zeros(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false) =>
        Grad(s_zeros.Begin().L(shape).DType(dtype).None().Dev(device).Call(), requires_grad);
    public static Tensor zeros(params long[] shape) => zeros(shape, float32);
    public static Tensor ones(long[] shape, ScalarType dtype = float32, Device? device = null, bool requires_grad = false) =>
        Grad(s_ones.Begin().L(shape).DType(dtype).None().Dev(device).Call(), requires_grad);
    public static Tensor ones(params long[] shape) => ones(shape, float32);
    public static Tensor empty(long[] shape, ScalarType dtype = float32, Device? device = null) =>
        s_empty.Begin().L(shape).DType(dtype).None().Dev(device).Call();
    public static Tensor full(long[] shape, Scalar value, ScalarType? dtype = null, Device? device = null) =>
        s_full.Begin().L(shape).S(value).DType(dtype).None().Dev(device).Call();
    public static Tensor arange(Scalar end, ScalarType? dtype = null, Device? device = null) => arange(0, end, 1, dtype, device);
    public static Tensor arange(Scalar start, Scalar end, Scalar step, ScalarType? dtype = null, Device? device = null) =>
        s_arange.Begin().S(start).S(end).S(step).DType(dtype).None().Dev(device).Call();
    public static Tensor linspace(double start, double end, long steps, ScalarType? dtype = null, Device? device = null) =>
        s_linspace.Begin().D(start).D(end).I(steps).DType(dtype).None().Dev(device).Call();
    public static Tensor eye(long n, ScalarType dtype = float32, Device? device = null) => s_eye.Begin().I(n).DType(dtype).None().Dev(device).Call();
    /// <summary>Uniform [0, 1).</summary>
    public static Tensor rand(long[] shape, Generator? generator = null, ScalarType dtype = float32, Device? device = null) =>
        s_rand.Begin().L(shape).Gen(generator).DType(dtype).None().Dev(device).Call();
    public static Tensor rand(params long[] shape) => rand(shape, null);
    public static Tensor randn(long[] shape, Generator? generator = null, ScalarType dtype = float32, Device? device = null) =>
        s_randn.Begin().L(shape).Gen(generator).DType(dtype).None().Dev(device).Call();
    public static Tensor randn(params long[] shape) => randn(shape, null);
    /// <summary>Integers uniform in [low, high).</summary>
    public static Tensor randint(long low, long high, long[] shape, Generator? generator = null, ScalarType dtype = int64, Device? device = null) =>
        s_randint.Begin().I(low).I(high).L(shape).Gen(generator).DType(dtype).None().Dev(device).Call();
    public static Tensor randperm(long n, Generator? generator = null, ScalarType dtype = int64, Device? device = null) =>
        s_randperm.Begin().I(n).Gen(generator).DType(dtype).None().Dev(device).Call();
    public static Tensor multinomial(Tensor probs, long num_samples, bool replacement = false, Generator? generator = null) =>
        probs.multinomial(num_samples, replacement, generator);
    public static Tensor zeros_like(Tensor t, ScalarType? dtype = null) => s_zeros_like.Begin().T(t).DType(dtype).Call();
    public static Tensor ones_like(Tensor t, ScalarType? dtype = null) => s_ones_like.Begin().T(t).DType(dtype).Call();
    public static Tensor empty_like(Tensor t, ScalarType? dtype = null) => s_empty_like.Begin().T(t).DType(dtype).Call();
    public static Tensor full_like(Tensor t, Scalar value, ScalarType? dtype = null) => s_full_like.Begin().T(t).S(value).DType(dtype).Call();
    public static Tensor rand_like(Tensor t) => s_rand_like.Begin().T(t).Call();
    public static Tensor randn_like(Tensor t) => s_randn_like.Begin().T(t).Call();

    private static Tensor Grad(Tensor t, bool requiresGrad) => requiresGrad ? t.requires_grad_() : t;

    /// <summary>A new CPU tensor holding a copy of <paramref name="data"/> (one copy, no intermediate).</summary>
    public static unsafe Tensor from_array<T>(ReadOnlySpan<T> data, params long[] shape) where T : unmanaged
    {
        if (shape.Length == 0 && data.Length != 1) shape = new long[] { data.Length };
        long n = 1;
        foreach (var s in shape) n *= s;
        if (n != data.Length)
            throw new TorchException($"shape [{string.Join(", ", shape)}] holds {n} elements, {data.Length} given");
        return from_bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data), ScalarTypeExtensions.Of<T>(), shape);
    }

    public static Tensor tensor<T>(T[] data, params long[] shape) where T : unmanaged =>
        from_array<T>(data, shape.Length == 0 ? new long[] { data.Length } : shape);

    /// <summary>A 0-dimensional tensor.</summary>
    public static Tensor scalar_tensor(double value, ScalarType dtype = float32) =>
        full(Array.Empty<long>(), value, dtype);

    /// <summary>A new CPU tensor from raw little-endian element bytes (e.g. bfloat16 data).</summary>
    public static unsafe Tensor from_bytes(ReadOnlySpan<byte> bytes, ScalarType dtype, params long[] shape)
    {
        fixed (byte* p = bytes)
        fixed (long* s = shape)
        {
            Native.Check(Native.ut_tensor_from_data(p, bytes.Length, (int)dtype, s, shape.Length, out var h));
            return new Tensor(h);
        }
    }

    // ---- joining and selection ----
    private static readonly Op s_cat = O("aten::cat"), s_stack = O("aten::stack"), s_where = O("aten::where", "self"),
        s_where_s = O("aten::where", "ScalarOther"), s_einsum = O("aten::einsum"), s_one_hot = O("aten::one_hot");

    public static Tensor cat(IReadOnlyList<Tensor> tensors, long dim = 0) => s_cat.Begin().Ts(tensors).I(dim).Call();
    public static Tensor stack(IReadOnlyList<Tensor> tensors, long dim = 0) => s_stack.Begin().Ts(tensors).I(dim).Call();
    public static Tensor where(Tensor condition, Tensor x, Tensor y) => s_where.Begin().T(condition).T(x).T(y).Call();
    public static Tensor where(Tensor condition, Tensor x, Scalar y) => s_where_s.Begin().T(condition).T(x).S(y).Call();
    public static Tensor einsum(string equation, params Tensor[] operands) => s_einsum.Begin().Str(equation).Ts(operands).Call();

    // ---- distances and linear algebra ----
    private static readonly Op s_cdist = O("aten::cdist"), s_eigh = O("aten::linalg_eigh");

    /// <summary>Pairwise p-norm distances between the rows of <paramref name="x1"/> (.., P, M) and <paramref name="x2"/> (.., R, M).</summary>
    public static Tensor cdist(Tensor x1, Tensor x2, double p = 2.0) => s_cdist.Begin().T(x1).T(x2).D(p).Call();

    public static class linalg
    {
        /// <summary>Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, as torch.linalg.eigh.</summary>
        public static (Tensor eigenvalues, Tensor eigenvectors) eigh(Tensor a, string uplo = "L") => s_eigh.Begin().T(a).Str(uplo).Call2();
    }

    // ---- functions mirroring Tensor methods ----
    public static Tensor matmul(Tensor a, Tensor b) => a.matmul(b);
    public static Tensor bmm(Tensor a, Tensor b) => a.bmm(b);
    public static Tensor addmm(Tensor input, Tensor m1, Tensor m2, Scalar? beta = null, Scalar? alpha = null) => input.addmm(m1, m2, beta, alpha);
    public static Tensor baddbmm(Tensor input, Tensor b1, Tensor b2, Scalar? beta = null, Scalar? alpha = null) => input.baddbmm(b1, b2, beta, alpha);
    public static Tensor exp(Tensor t) => t.exp();
    public static Tensor log(Tensor t) => t.log();
    public static Tensor sqrt(Tensor t) => t.sqrt();
    public static Tensor abs(Tensor t) => t.abs();
    public static Tensor pow(Tensor t, Scalar exponent) => t.pow(exponent);
    public static Tensor pow(Scalar self, Tensor exponent) => Tensor.RPow(self, exponent);
    public static Tensor clamp(Tensor t, Scalar? min = null, Scalar? max = null) => t.clamp(min, max);
    public static Tensor maximum(Tensor a, Tensor b) => a.maximum(b);
    public static Tensor minimum(Tensor a, Tensor b) => a.minimum(b);
    public static Tensor sum(Tensor t) => t.sum();
    public static Tensor mean(Tensor t) => t.mean();
    public static Tensor argmax(Tensor t, long? dim = null, bool keepdim = false) => t.argmax(dim, keepdim);
    public static Tensor logsumexp(Tensor t, long dim, bool keepdim = false) => t.logsumexp(dim, keepdim);
    public static Tensor cumsum(Tensor t, long dim) => t.cumsum(dim);
    public static Tensor softmax(Tensor t, long dim) => t.softmax(dim);
    public static Tensor log_softmax(Tensor t, long dim) => t.log_softmax(dim);
    public static Tensor sigmoid(Tensor t) => t.sigmoid();
    public static Tensor tanh(Tensor t) => t.tanh();
    public static Tensor isnan(Tensor t) => t.isnan();
    public static Tensor isfinite(Tensor t) => t.isfinite();
    public static Tensor flip(Tensor t, params long[] dims) => t.flip(dims);
    public static Tensor gather(Tensor t, long dim, Tensor index) => t.gather(dim, index);
    public static Tensor index_select(Tensor t, long dim, Tensor index) => t.index_select(dim, index);
    public static Tensor masked_select(Tensor t, Tensor mask) => t.masked_select(mask);
    public static Tensor narrow(Tensor t, long dim, long start, long length) => t.narrow(dim, start, length);
    public static Tensor logical_and(Tensor a, Tensor b) => a.logical_and(b);
    public static Tensor logical_or(Tensor a, Tensor b) => a.logical_or(b);
    public static Tensor logical_not(Tensor a) => a.logical_not();
    public static bool equal(Tensor a, Tensor b) => a.equal(b);
    public static bool allclose(Tensor a, Tensor b, double rtol = 1e-5, double atol = 1e-8) => a.allclose(b, rtol, atol);
    public static (Tensor values, Tensor indices) topk(Tensor t, long k, long dim = -1, bool largest = true, bool sorted = true) => t.topk(k, dim, largest, sorted);
    public static (Tensor values, Tensor indices) sort(Tensor t, long dim = -1, bool descending = false) => t.sort(dim, descending);

    // ---- autograd ----

    public static class autograd
    {
        /// <summary>Gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/>,
        /// without touching .grad (PyTorch's torch.autograd.grad). An unused input gives null when
        /// <paramref name="allow_unused"/>.</summary>
        public static unsafe Tensor?[] grad(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> inputs,
            IReadOnlyList<Tensor?>? grad_outputs = null, bool retain_graph = false, bool create_graph = false,
            bool allow_unused = false)
        {
            var outs = outputs.Select(t => t.Handle).ToArray();
            var gouts = grad_outputs?.Select(t => t?.Handle ?? IntPtr.Zero).ToArray();
            var ins = inputs.Select(t => t.Handle).ToArray();
            var results = new IntPtr[ins.Length];
            fixed (IntPtr* po = outs)
            fixed (IntPtr* pg = gouts)
            fixed (IntPtr* pi = ins)
            fixed (IntPtr* pr = results)
            {
                Native.Check(Native.ut_autograd_grad(po, outs.Length, pg, pi, ins.Length, retain_graph || create_graph ? 1 : 0,
                    create_graph ? 1 : 0, allow_unused ? 1 : 0, pr));
            }
            GC.KeepAlive(outputs);
            GC.KeepAlive(inputs);
            GC.KeepAlive(grad_outputs);
            return results.Select(h => h == IntPtr.Zero ? null : new Tensor(h)).ToArray();
        }
    }
}
