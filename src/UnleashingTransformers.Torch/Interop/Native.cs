using System.Runtime.InteropServices;

namespace UnleashingTransformers.Torch.Interop;

/// <summary>A tagged value crossing the C ABI (ut_value in ut_native.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UtValue
{
    public int Tag;
    public int N;
    public long I;
    public double D;
    public IntPtr P;
}

internal static class Tag
{
    public const int None = 0, Tensor = 1, Int = 2, Double = 3, Bool = 4, IntList = 5, DoubleList = 6,
        TensorList = 7, OptTensorList = 8, Device = 9, String = 10, Generator = 11, Default = 12, BoolList = 13;
}

/// <summary>The functions of libut_native (src/Native/include/ut_native.h).</summary>
internal static unsafe partial class Native
{
    private const string Lib = "ut_native";

    [LibraryImport(Lib)] internal static partial IntPtr ut_last_error();
    [LibraryImport(Lib)] internal static partial IntPtr ut_torch_version();
    [LibraryImport(Lib)] internal static partial void ut_free(IntPtr p);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_op_find(string name, string overload, out IntPtr op);
    [LibraryImport(Lib)] internal static partial IntPtr ut_op_schema(IntPtr op);
    [LibraryImport(Lib)] internal static partial int ut_op_call(IntPtr op, UtValue* args, int nargs, UtValue* outs, int cap, out int nouts);

    [LibraryImport(Lib)] internal static partial void ut_tensor_free(IntPtr t);
    [LibraryImport(Lib)] internal static partial int ut_tensor_alias(IntPtr t, out IntPtr result);
    [LibraryImport(Lib)] internal static partial int ut_tensor_from_data(void* data, long nbytes, int dtype, long* sizes, int ndim, out IntPtr result);
    [LibraryImport(Lib)]
    internal static partial int ut_tensor_info(IntPtr t, out int dtype, out int ndim, out int deviceType, out int deviceIndex, out int requiresGrad, out int isLeaf,
        out int isContiguous, out int defined);
    [LibraryImport(Lib)] internal static partial int ut_tensor_shape(IntPtr t, long* sizes, long* strides, out long storageOffset);
    [LibraryImport(Lib)] internal static partial long ut_tensor_numel(IntPtr t);
    [LibraryImport(Lib)] internal static partial IntPtr ut_tensor_data_ptr(IntPtr t);
    [LibraryImport(Lib)] internal static partial int ut_tensor_set_requires_grad(IntPtr t, int requiresGrad);
    [LibraryImport(Lib)] internal static partial int ut_tensor_grad(IntPtr t, out IntPtr grad);
    [LibraryImport(Lib)] internal static partial int ut_tensor_set_grad(IntPtr t, IntPtr grad);
    [LibraryImport(Lib)] internal static partial int ut_tensor_set_data(IntPtr t, IntPtr data);

    [LibraryImport(Lib)] internal static partial int ut_backward(IntPtr t, IntPtr grad, int retainGraph, int createGraph);
    [LibraryImport(Lib)]
    internal static partial int ut_autograd_grad(IntPtr* outputs, int noutputs, IntPtr* gradOutputs, IntPtr* inputs, int ninputs, int retainGraph, int createGraph,
        int allowUnused, IntPtr* results);
    [LibraryImport(Lib)] internal static partial int ut_grad_enabled();
    [LibraryImport(Lib)] internal static partial void ut_set_grad_enabled(int enabled);

    [LibraryImport(Lib)] internal static partial void ut_set_num_threads(int n);
    [LibraryImport(Lib)] internal static partial int ut_get_num_threads();
    [LibraryImport(Lib)] internal static partial int ut_set_blas_threads(int n);
    [LibraryImport(Lib)] internal static partial int ut_get_blas_threads();
    [LibraryImport(Lib)] internal static partial int ut_manual_seed(ulong seed);
    [LibraryImport(Lib)] internal static partial int ut_cuda_is_available();
    [LibraryImport(Lib)] internal static partial int ut_cuda_device_count();
    [LibraryImport(Lib)] internal static partial int ut_cuda_synchronize(int device);

    [LibraryImport(Lib)] internal static partial int ut_generator_new(int deviceType, ulong seed, out IntPtr gen);
    [LibraryImport(Lib)] internal static partial int ut_generator_default(int deviceType, int deviceIndex, out IntPtr gen);
    [LibraryImport(Lib)] internal static partial void ut_generator_free(IntPtr gen);
    [LibraryImport(Lib)] internal static partial int ut_generator_seed(IntPtr gen, ulong seed);
    [LibraryImport(Lib)] internal static partial ulong ut_generator_initial_seed(IntPtr gen);
    [LibraryImport(Lib)] internal static partial int ut_generator_get_state(IntPtr gen, out IntPtr state);
    [LibraryImport(Lib)] internal static partial int ut_generator_set_state(IntPtr gen, IntPtr state);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_module_load(string path, int deviceType, int deviceIndex, out IntPtr module);
    [LibraryImport(Lib)] internal static partial void ut_module_free(IntPtr module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_module_call(IntPtr module, string method, UtValue* args, IntPtr* names, int nargs, UtValue* outs, int cap, out int nouts);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ut_group_create(string host, int port, int rank, int world, int timeoutMs, string? iface, string? bindHost, out IntPtr group);
    [LibraryImport(Lib)] internal static partial int ut_group_allreduce_sum(IntPtr group, IntPtr* tensors, int n);
    [LibraryImport(Lib)] internal static partial int ut_group_barrier(IntPtr group);
    [LibraryImport(Lib)] internal static partial void ut_group_free(IntPtr group);

    /// <summary>Throws the native side's last error when <paramref name="rc"/> says it failed.</summary>
    internal static void Check(int rc)
    {
        if (rc != 0) throw new TorchException(Marshal.PtrToStringUTF8(ut_last_error()) ?? "native error");
    }

    internal static string Str(IntPtr p) => Marshal.PtrToStringUTF8(p) ?? "";
}
