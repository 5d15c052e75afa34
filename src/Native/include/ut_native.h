/* libut_native: the flat C ABI between the C# binding and libtorch / libvips.
 *
 * Rules of this ABI:
 *  - No C++ type crosses it: tensors, operators and generators are opaque handles.
 *  - Every function that can fail returns 0 on success and non-zero on failure; the message of the
 *    failure (libtorch's own, for a libtorch error) is then read with ut_last_error() on the same
 *    thread. No C++ exception ever leaves this library.
 *  - Handles returned through out-parameters are owned by the caller and freed with the matching
 *    ut_*_free function.
 *
 * ATen operators are not wrapped one by one: ut_op_find looks an operator up in libtorch's
 * dispatcher by its schema name ("aten::add", overload "Tensor") and ut_op_call calls it with a
 * list of tagged values, filling schema defaults for trailing arguments. Autograd, device dispatch
 * and every kernel are libtorch's own.
 */
#ifndef UT_NATIVE_H
#define UT_NATIVE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UT_API __attribute__((visibility("default")))

typedef struct ut_tensor ut_tensor;       /* an at::Tensor (may be undefined) */
typedef struct ut_op ut_op;               /* a dispatcher operator handle */
typedef struct ut_generator ut_generator; /* an at::Generator */
typedef struct ut_module ut_module;       /* a TorchScript module (torch::jit::Module) */
typedef struct ut_group ut_group;         /* a c10d process group (Gloo) */

/* Tags of ut_value. */
enum {
  UT_NONE = 0,            /* None / an absent optional */
  UT_TENSOR = 1,          /* p: ut_tensor* */
  UT_INT = 2,             /* i */
  UT_DOUBLE = 3,          /* d */
  UT_BOOL = 4,            /* i (0 or 1) */
  UT_INT_LIST = 5,        /* p: int64_t[n] */
  UT_DOUBLE_LIST = 6,     /* p: double[n] */
  UT_TENSOR_LIST = 7,     /* p: ut_tensor*[n] */
  UT_OPT_TENSOR_LIST = 8, /* p: ut_tensor*[n], a NULL entry is None */
  UT_DEVICE = 9,          /* i: device type (0 cpu, 1 cuda), n: index (-1 = current) */
  UT_STRING = 10,         /* p: UTF-8, NUL-terminated */
  UT_GENERATOR = 11,      /* p: ut_generator* */
  UT_DEFAULT = 12,        /* the schema's default value for this argument */
  UT_BOOL_LIST = 13       /* p: uint8_t[n] */
};

typedef struct ut_value {
  int32_t tag;
  int32_t n;
  int64_t i;
  double d;
  void* p;
} ut_value;

/* ---- errors and library ---- */
UT_API const char* ut_last_error(void);
UT_API const char* ut_torch_version(void);
UT_API void ut_free(void* p); /* frees arrays this library allocated (e.g. tensor-list results) */

/* ---- operators ---- */
UT_API int ut_op_find(const char* name, const char* overload, ut_op** out);
UT_API const char* ut_op_schema(ut_op* op);
/* Results are written to outs[0..*nouts). A tensor result is a new handle; a tensor-list result is
 * UT_TENSOR_LIST with p a ut_tensor*[n] array to release with ut_free (the handles are the
 * caller's). */
UT_API int ut_op_call(ut_op* op, const ut_value* args, int32_t nargs, ut_value* outs, int32_t cap,
                      int32_t* nouts);

/* ---- tensors ---- */
UT_API void ut_tensor_free(ut_tensor* t);
/* A new handle to the same tensor (shares storage and autograd identity). */
UT_API int ut_tensor_alias(ut_tensor* t, ut_tensor** out);
/* Copies nbytes of host memory into a new contiguous CPU tensor of the given dtype and sizes. */
UT_API int ut_tensor_from_data(const void* data, int64_t nbytes, int32_t dtype,
                               const int64_t* sizes, int32_t ndim, ut_tensor** out);
/* dtype, ndim, device type/index, requires_grad, is_leaf, contiguity. */
UT_API int ut_tensor_info(ut_tensor* t, int32_t* dtype, int32_t* ndim, int32_t* device_type,
                          int32_t* device_index, int32_t* requires_grad, int32_t* is_leaf,
                          int32_t* is_contiguous, int32_t* defined);
UT_API int ut_tensor_shape(ut_tensor* t, int64_t* sizes, int64_t* strides, int64_t* storage_offset);
UT_API int64_t ut_tensor_numel(ut_tensor* t);
UT_API void* ut_tensor_data_ptr(ut_tensor* t);
UT_API int ut_tensor_set_requires_grad(ut_tensor* t, int32_t requires_grad);
/* *out is NULL when the tensor has no gradient. */
UT_API int ut_tensor_grad(ut_tensor* t, ut_tensor** out);
/* grad NULL clears the gradient. */
UT_API int ut_tensor_set_grad(ut_tensor* t, ut_tensor* grad);
/* Replaces the tensor's data (the `param.data = x` of PyTorch), keeping its identity. */
UT_API int ut_tensor_set_data(ut_tensor* t, ut_tensor* data);

/* ---- autograd ---- */
UT_API int ut_backward(ut_tensor* t, ut_tensor* grad, int32_t retain_graph, int32_t create_graph);
/* grad_outputs may be NULL (ones for scalars); results[i] is NULL for an unused input. */
UT_API int ut_autograd_grad(ut_tensor** outputs, int32_t noutputs, ut_tensor** grad_outputs,
                            ut_tensor** inputs, int32_t ninputs, int32_t retain_graph,
                            int32_t create_graph, int32_t allow_unused, ut_tensor** results);
UT_API int32_t ut_grad_enabled(void);
UT_API void ut_set_grad_enabled(int32_t enabled);

/* ---- runtime ---- */
UT_API void ut_set_num_threads(int32_t n);
UT_API int32_t ut_get_num_threads(void);
/* Threads of the BLAS library's own pool (OpenBLAS pthreads ignore libtorch's setting). Returns 0
 * when the linked BLAS offers no such control. */
UT_API int32_t ut_set_blas_threads(int32_t n);
/* The BLAS pool's thread count, or 0 when the linked BLAS offers no such control. */
UT_API int32_t ut_get_blas_threads(void);
UT_API int ut_manual_seed(uint64_t seed);
UT_API int32_t ut_cuda_is_available(void);
UT_API int32_t ut_cuda_device_count(void);
UT_API int ut_cuda_synchronize(int32_t device);

UT_API int ut_generator_new(int32_t device_type, uint64_t seed, ut_generator** out);
UT_API int ut_generator_default(int32_t device_type, int32_t device_index, ut_generator** out);
UT_API void ut_generator_free(ut_generator* g);
UT_API int ut_generator_seed(ut_generator* g, uint64_t seed);
UT_API uint64_t ut_generator_initial_seed(ut_generator* g);
/* The generator's full state as a uint8 tensor, and back: for exact resume. */
UT_API int ut_generator_get_state(ut_generator* g, ut_tensor** out);
UT_API int ut_generator_set_state(ut_generator* g, ut_tensor* state);

/* ---- TorchScript modules ---- */
/* Loads a file written by torch.jit.save onto a device (type as UT_DEVICE), in eval mode. A file
 * that is not TorchScript is an error (libtorch's message). */
UT_API int ut_module_load(const char* path, int32_t device_type, int32_t device_index,
                          ut_module** out);
UT_API void ut_module_free(ut_module* m);
/* Calls method `method` (e.g. "forward"): args[i] is the argument named names[i], or the next
 * positional one when names (or names[i]) is NULL; each is converted by the method's schema as
 * ut_op_call converts, and arguments not given take their defaults. A tuple result comes back as
 * its elements in outs, as ut_op_call's results. */
UT_API int ut_module_call(ut_module* m, const char* method, const ut_value* args,
                          const char* const* names, int32_t nargs, ut_value* outs, int32_t cap,
                          int32_t* nouts);

/* ---- collectives (c10d over Gloo) ---- */
/* Joins rank `rank` of `world` processes meeting at the TCP store on host:port, which rank 0
 * serves; waits up to timeout_ms for the others (and for each collective). Gloo's own connections
 * go out of network interface `iface` if given, else of the address `bind_host` names if given,
 * else of the machine's hostname's. Without libgloo-dev at build time: an error. */
UT_API int ut_group_create(const char* host, int32_t port, int32_t rank, int32_t world,
                           int32_t timeout_ms, const char* iface, const char* bind_host,
                           ut_group** out);
/* Sums the n tensors over the group's ranks, in place (every rank gives the same shapes in the same
 * order), and returns when done. */
UT_API int ut_group_allreduce_sum(ut_group* g, ut_tensor* const* tensors, int32_t n);
UT_API int ut_group_barrier(ut_group* g);
UT_API void ut_group_free(ut_group* g);

/* ---- images (libvips) ---- */
UT_API const char* ut_vips_version(void);
/* Decodes an image file (PNG, JPEG, WebP, ... whatever libvips reads) to 8-bit sRGB: grey is
 * expanded, alpha dropped, 16-bit reduced. *pixels is an interleaved HxWx3 buffer to release with
 * ut_free. Truncated or corrupt data is an error, as is an image of more than max_pixels pixels
 * (when > 0; read from the header, before decoding). With shrink_to > 0, an image whose shorter
 * side is more than twice that is decoded reduced to a shorter side of shrink_to (libvips'
 * shrink-on-load). */
UT_API int ut_image_load(const char* path, int64_t max_pixels, int32_t shrink_to, int32_t* width,
                         int32_t* height, uint8_t** pixels);
/* Encodes an interleaved HxWxbands uint8 buffer (bands 1 or 3); the format follows the path's
 * extension (.png, .jpg/.jpeg, .webp, .tif/.tiff tiled and pyramidal, .dzi a DeepZoom pyramid).
 * quality applies to JPEG/WebP. A PNG gets a text chunk named "parameters" holding `parameters`
 * when that is not NULL. */
UT_API int ut_image_save(const char* path, const uint8_t* pixels, int32_t width, int32_t height,
                         int32_t bands, int32_t quality, const char* parameters);
/* Reads an image file and writes it again by the extension of `path` (as ut_image_save does; .tif
 * is tiled and pyramidal, .dzi a DeepZoom pyramid x.dzi + x_files/), streaming: the image is never
 * whole in memory. */
UT_API int ut_image_convert(const char* source, const char* path, int32_t quality);
/* Writes the raw interleaved HxWxbands uint8 file `raw` as an image by the extension of `path` (as
 * ut_image_save), streaming from the file: for images too large to hold in memory. */
UT_API int ut_image_save_raw(const char* raw, int32_t width, int32_t height, int32_t bands,
                             const char* path, int32_t quality, const char* parameters);
/* Encodes an interleaved HxWxbands uint8 buffer in memory as `format` (".png", ".jpg", ...): *data
 * is *length bytes to release with ut_free. */
UT_API int ut_image_encode(const char* format, const uint8_t* pixels, int32_t width, int32_t height,
                           int32_t bands, uint8_t** data, int64_t* length);
/* The text chunk named `key` of a PNG file (read from its header; no pixel is decoded): *value is a
 * string to release with ut_free, or NULL when the file has no such chunk. */
UT_API int ut_image_text(const char* path, const char* key, char** value);

#ifdef __cplusplus
}
#endif

#endif
