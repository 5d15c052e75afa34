// Calling any ATen operator by schema name through libtorch's boxed dispatcher.
//
// The C# side passes tagged values; each is converted to the IValue the operator's schema expects
// (so an int given for a float argument, or a None for an optional, becomes the right thing),
// missing trailing arguments take the schema's defaults, and a value that cannot fit the argument
// is a clear error naming the operator and the argument.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/version.h>

#include "values.h"

struct ut_op {
  c10::OperatorHandle handle;
  std::string schema_text;
};

extern "C" {

int ut_op_find(const char* name, const char* overload, ut_op** out) {
  UT_GUARD({
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload ? overload : ""});
    TORCH_CHECK(handle.has_value(), "no operator ", name, (overload && *overload ? "." : ""),
                overload ? overload : "", " in this libtorch (", TORCH_VERSION, ")");
    *out = new ut_op{*handle, c10::toString(handle->schema())};
  })
}

const char* ut_op_schema(ut_op* op) { return op->schema_text.c_str(); }

int ut_op_call(ut_op* op, const ut_value* args, int32_t nargs, ut_value* outs, int32_t cap,
               int32_t* nouts) {
  UT_GUARD({
    const c10::FunctionSchema& schema = op->handle.schema();
    const auto& params = schema.arguments();
    TORCH_CHECK(static_cast<size_t>(nargs) <= params.size(), schema.name(), " takes ",
                params.size(), " arguments, ", nargs, " given");
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); i++) {
      if (i < static_cast<size_t>(nargs)) {
        stack.push_back(ut::to_ivalue(schema, params[i], params[i].type(), args[i]));
      } else {
        ut_value def{UT_DEFAULT, 0, 0, 0.0, nullptr};
        stack.push_back(ut::to_ivalue(schema, params[i], params[i].type(), def));
      }
    }
    op->handle.callBoxed(stack);
    TORCH_CHECK(stack.size() <= static_cast<size_t>(cap), schema.name(), " returned ", stack.size(),
                " values, room for ", cap);
    for (size_t i = 0; i < stack.size(); i++) ut::from_ivalue(stack[i], outs[i]);
    *nouts = static_cast<int32_t>(stack.size());
  })
}

}  // extern "C"
