// Library-wide state: errors, threads, seeds, generators, CUDA presence.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <cstdlib>

#include "common.h"

namespace ut {
thread_local std::string last_error;
void set_error(std::string message) { last_error = std::move(message); }
}  // namespace ut

extern "C" {

const char* ut_last_error(void) { return ut::last_error.c_str(); }
const char* ut_torch_version(void) { return TORCH_VERSION; }
void ut_free(void* p) { std::free(p); }

void ut_set_num_threads(int32_t n) {
  try {
    at::set_num_threads(n);
  } catch (...) {
  }
}
int32_t ut_get_num_threads(void) { return at::get_num_threads(); }

int32_t ut_set_blas_threads(int32_t n) {
  using setter = void (*)(int);
  // Looked up at run time: the BLAS behind libtorch is chosen by Debian's alternatives system.
  static const auto set = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return 0;
  set(n);
  return 1;
}

int32_t ut_get_blas_threads(void) {
  using getter = int (*)(void);
  static const auto get = reinterpret_cast<getter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get == nullptr ? 0 : get();
}

int ut_manual_seed(uint64_t seed){UT_GUARD({
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  // Through the context, not the CUDA hooks: their accessor was renamed in libtorch 2.x.
  for (int i = 0; i < (at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0); i++) {
    auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, i));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
})}

int32_t ut_cuda_is_available(void) {
  try {
    return at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0;
  } catch (...) {
    return 0;
  }
}
int32_t ut_cuda_device_count(void) {
  try {
    return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  } catch (...) {
    return 0;
  }
}
int ut_cuda_synchronize(int32_t device) {
  UT_GUARD({ at::detail::getCUDAHooks().deviceSynchronize(device); })
}

int ut_generator_new(int32_t device_type, uint64_t seed, ut_generator** out) {
  UT_GUARD({
    TORCH_CHECK(device_type == 0, "new generators are CPU only; use the default CUDA generator");
    *out = new ut_generator{at::make_generator<at::CPUGeneratorImpl>(seed)};
  })
}
int ut_generator_default(int32_t device_type, int32_t device_index, ut_generator** out) {
  UT_GUARD({
    if (device_type == 0) {
      *out = new ut_generator{at::detail::getDefaultCPUGenerator()};
    } else {
      *out = new ut_generator{
          at::globalContext().defaultGenerator(at::Device(at::kCUDA, device_index))};
    }
  })
}
void ut_generator_free(ut_generator* g) { delete g; }
int ut_generator_seed(ut_generator* g, uint64_t seed){UT_GUARD({
  std::lock_guard<std::mutex> lock(g->g.mutex());
  g->g.set_current_seed(seed);
})} uint64_t ut_generator_initial_seed(ut_generator* g) {
  return g->g.current_seed();
}
int ut_generator_get_state(ut_generator* g, ut_tensor** out) {
  UT_GUARD({
    std::lock_guard<std::mutex> lock(g->g.mutex());
    *out = ut::wrap(at::Tensor(g->g.get_state()));
  })
}
int ut_generator_set_state(ut_generator* g, ut_tensor* state) {
  UT_GUARD({
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_state(state->t);
  })
}

}  // extern "C"
