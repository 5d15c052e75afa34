// Collectives in a build without Gloo's headers (libgloo-dev): every call fails, saying why.
#include <stdexcept>

#include "common.h"

namespace {
[[noreturn]] void no_gloo() {
  throw std::runtime_error(
      "this libut_native was built without Gloo: data-parallel training needs libgloo-dev at build "
      "time (run deploy/bootstrap.sh and rebuild)");
}
}  // namespace

extern "C" {

int ut_group_create(const char* host, int32_t port, int32_t rank, int32_t world, int32_t timeout_ms,
                    const char* iface, const char* bind_host, ut_group** out) {
  UT_GUARD({ no_gloo(); })
}

int ut_group_allreduce_sum(ut_group* g, ut_tensor* const* tensors, int32_t n) {
  UT_GUARD({ no_gloo(); })
}

int ut_group_barrier(ut_group* g) {
  UT_GUARD({ no_gloo(); })
}

void ut_group_free(ut_group* g) {}

}  // extern "C"
