// Tensor handles: creation from host memory, metadata, data pointers and autograd.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstring>

#include "common.h"

extern "C" {

void ut_tensor_free(ut_tensor* t) { delete t; }

int ut_tensor_alias(ut_tensor* t, ut_tensor** out) {
  UT_GUARD({ *out = ut::wrap(t->t); })
}

int ut_tensor_from_data(const void* data, int64_t nbytes, int32_t dtype, const int64_t* sizes,
                        int32_t ndim, ut_tensor** out) {
  UT_GUARD({
    auto options = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    at::Tensor t = at::empty(at::IntArrayRef(sizes, ndim), options);
    int64_t expected = t.numel() * static_cast<int64_t>(t.element_size());
    TORCH_CHECK(expected == nbytes, "from_data: ", nbytes, " bytes given for a tensor of ",
                expected, " bytes");
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    *out = ut::wrap(std::move(t));
  })
}

int ut_tensor_info(ut_tensor* t, int32_t* dtype, int32_t* ndim, int32_t* device_type,
                   int32_t* device_index, int32_t* requires_grad, int32_t* is_leaf,
                   int32_t* is_contiguous, int32_t* defined) {
  UT_GUARD({
    const at::Tensor& x = t->t;
    *defined = x.defined();
    if (!x.defined()) return 0;
    *dtype = static_cast<int32_t>(x.scalar_type());
    *ndim = static_cast<int32_t>(x.dim());
    *device_type = static_cast<int32_t>(x.device().type());
    *device_index = x.device().index();
    *requires_grad = x.requires_grad();
    *is_leaf = x.is_leaf();
    *is_contiguous = x.is_contiguous();
  })
}

int ut_tensor_shape(ut_tensor* t, int64_t* sizes, int64_t* strides,
                    int64_t* storage_offset){UT_GUARD({
  const at::Tensor& x = t->t;
  for (int64_t i = 0; i < x.dim(); i++) {
    if (sizes) sizes[i] = x.size(i);
    if (strides) strides[i] = x.stride(i);
  }
  if (storage_offset) *storage_offset = x.storage_offset();
})}

int64_t ut_tensor_numel(ut_tensor* t) {
  return t->t.defined() ? t->t.numel() : 0;
}

void* ut_tensor_data_ptr(ut_tensor* t) {
  try {
    return t->t.data_ptr();
  } catch (...) {
    return nullptr;
  }
}

int ut_tensor_set_requires_grad(ut_tensor* t, int32_t requires_grad) {
  UT_GUARD({ t->t.set_requires_grad(requires_grad != 0); })
}

int ut_tensor_grad(ut_tensor* t, ut_tensor** out) {
  UT_GUARD({
    const at::Tensor& g = t->t.grad();
    *out = g.defined() ? ut::wrap(g) : nullptr;
  })
}

int ut_tensor_set_grad(ut_tensor* t, ut_tensor* grad) {
  UT_GUARD({ t->t.mutable_grad() = grad ? grad->t : at::Tensor(); })
}

int ut_tensor_set_data(ut_tensor* t, ut_tensor* data) {
  UT_GUARD({ t->t.set_data(data->t); })
}

int ut_backward(ut_tensor* t, ut_tensor* grad, int32_t retain_graph, int32_t create_graph) {
  UT_GUARD({ t->t.backward(grad ? grad->t : at::Tensor(), retain_graph != 0, create_graph != 0); })
}

int ut_autograd_grad(ut_tensor** outputs, int32_t noutputs, ut_tensor** grad_outputs,
                     ut_tensor** inputs, int32_t ninputs, int32_t retain_graph,
                     int32_t create_graph, int32_t allow_unused, ut_tensor** results){UT_GUARD({
  std::vector<at::Tensor> outs, gouts, ins;
  for (int32_t i = 0; i < noutputs; i++) {
    outs.push_back(outputs[i]->t);
    gouts.push_back(grad_outputs && grad_outputs[i] ? grad_outputs[i]->t : at::Tensor());
  }
  for (int32_t i = 0; i < ninputs; i++) ins.push_back(inputs[i]->t);
  auto grads = torch::autograd::grad(outs, ins, gouts, retain_graph != 0, create_graph != 0,
                                     allow_unused != 0);
  for (int32_t i = 0; i < ninputs; i++) {
    results[i] = grads[i].defined() ? ut::wrap(grads[i]) : nullptr;
  }
})}

int32_t ut_grad_enabled(void) {
  return at::GradMode::is_enabled();
}
void ut_set_grad_enabled(int32_t enabled) { at::GradMode::set_enabled(enabled != 0); }

}  // extern "C"
