// Data-parallel training's collectives: a c10d process group over Gloo, its ranks meeting at a TCP
// store that rank 0 serves. Which ranks, when and what to reduce is the C# side's business.
#define USE_C10D_GLOO 1
#include <c10/util/Logging.h>

#include <chrono>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <vector>

#include "common.h"

namespace {
// c10d logs a failed connect to the store on stderr before it throws the same words, which the C#
// side makes its one line: below FATAL the log is quiet while a group is made.
class QuietLog {
#ifdef C10_USE_GLOG
  int& level_ = FLAGS_minloglevel;
#else
  int& level_ = FLAGS_caffe2_log_level;
#endif
  int saved_ = level_;

 public:
  QuietLog() { level_ = 3; }
  ~QuietLog() { level_ = saved_; }
};
}  // namespace

struct ut_group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

extern "C" {

int ut_group_create(const char* host, int32_t port, int32_t rank, int32_t world, int32_t timeout_ms,
                    const char* iface, const char* bind_host, ut_group** out) {
  UT_GUARD({
    TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "rank ", rank, " of a world of ", world,
                ": expected 0 <= rank < world");
    TORCH_CHECK(port > 0 && port < 65536, "store port ", port, ": expected 1 to 65535");
    QuietLog quiet;
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = static_cast<size_t>(world);
    store_options.timeout = std::chrono::milliseconds(timeout_ms);
    auto store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeout_ms));
    options->devices.push_back(iface != nullptr && *iface != 0
                                   ? c10d::ProcessGroupGloo::createDeviceForInterface(iface)
                               : bind_host != nullptr && *bind_host != 0
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname(bind_host)
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    *out = new ut_group{c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options)};
  })
}

int ut_group_allreduce_sum(ut_group* g, ut_tensor* const* tensors, int32_t n) {
  UT_GUARD({
    // One collective a tensor: a list given to c10d at once is one tensor a device, of one shape.
    for (int32_t i = 0; i < n; i++) {
      std::vector<at::Tensor> one{tensors[i]->t};
      g->group->allreduce(one)->wait();
    }
  })
}

int ut_group_barrier(ut_group* g) {
  UT_GUARD({ g->group->barrier()->wait(); })
}

void ut_group_free(ut_group* g) { delete g; }

}  // extern "C"
