// Shared by the shim's sources: handle types and the exception barrier.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <exception>
#include <string>

#include "ut_native.h"

struct ut_tensor {
  at::Tensor t;
};

struct ut_generator {
  at::Generator g;
};

namespace ut {

void set_error(std::string message);

inline ut_tensor* wrap(at::Tensor t) { return new ut_tensor{std::move(t)}; }

}  // namespace ut

// Every exported function that can fail runs its body inside UT_GUARD: a C++ exception becomes a
// non-zero return and a message for ut_last_error(), never a crash of the host process.
#define UT_GUARD(...)                          \
  try {                                        \
    __VA_ARGS__;                               \
    return 0;                                  \
  } catch (const c10::Error& e) {              \
    ut::set_error(e.what_without_backtrace()); \
  } catch (const std::exception& e) {          \
    ut::set_error(e.what());                   \
  } catch (...) {                              \
    ut::set_error("unknown native error");     \
  }                                            \
  return 1;
