// TorchScript modules (files written by torch.jit.save): loaded by libtorch's own loader and called
// by method name, their arguments converted by the method's schema as operator arguments are.
#include <torch/script.h>

#include <string>
#include <vector>

#include "values.h"

struct ut_module {
  torch::jit::Module m;
};

extern "C" {

int ut_module_load(const char* path, int32_t device_type, int32_t device_index, ut_module** out) {
  UT_GUARD({
    auto device = c10::Device(static_cast<c10::DeviceType>(device_type),
                              static_cast<c10::DeviceIndex>(device_index));
    auto module = torch::jit::load(path, device);
    module.eval();
    *out = new ut_module{std::move(module)};
  })
}

void ut_module_free(ut_module* m) { delete m; }

int ut_module_call(ut_module* m, const char* method, const ut_value* args, const char* const* names,
                   int32_t nargs, ut_value* outs, int32_t cap, int32_t* nouts) {
  UT_GUARD({
    auto found = m->m.find_method(method);
    TORCH_CHECK(found.has_value(), "the module has no method '", method, "'");
    const c10::FunctionSchema& schema = found->function().getSchema();
    const auto& params = schema.arguments();  // params[0] is self
    std::vector<c10::IValue> stack(params.size() - 1);
    std::vector<bool> given(params.size() - 1, false);
    size_t position = 0;
    for (int32_t a = 0; a < nargs; a++) {
      size_t index;
      if (names == nullptr || names[a] == nullptr) {
        index = position++;
        TORCH_CHECK(index < stack.size(), schema.name(), " takes ", stack.size(),
                    " arguments, more given");
      } else {
        auto named = schema.argumentIndexWithName(names[a]);
        TORCH_CHECK(named.has_value() && *named > 0, schema.name(), " has no argument '", names[a],
                    "' (", schema, ")");
        index = *named - 1;
      }
      TORCH_CHECK(!given[index], schema.name(), ": argument '", params[index + 1].name(),
                  "' given twice");
      stack[index] = ut::to_ivalue(schema, params[index + 1], params[index + 1].type(), args[a]);
      given[index] = true;
    }
    for (size_t i = 0; i < stack.size(); i++) {
      if (given[i]) continue;
      ut_value def{UT_DEFAULT, 0, 0, 0.0, nullptr};
      stack[i] = ut::to_ivalue(schema, params[i + 1], params[i + 1].type(), def);
    }
    c10::IValue result = (*found)(std::move(stack));
    // A tuple comes back as its elements, as an operator's several results do.
    std::vector<c10::IValue> results;
    if (result.isTuple()) {
      for (const auto& e : result.toTupleRef().elements()) results.push_back(e);
    } else {
      results.push_back(std::move(result));
    }
    TORCH_CHECK(results.size() <= static_cast<size_t>(cap), method, " returned ", results.size(),
                " values, room for ", cap);
    for (size_t i = 0; i < results.size(); i++) ut::from_ivalue(results[i], outs[i]);
    *nouts = static_cast<int32_t>(results.size());
  })
}

}  // extern "C"
