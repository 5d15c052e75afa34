// Tagged ABI values <-> IValues, by function schema (values.cpp).
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>

#include "common.h"

namespace ut {

// The IValue for argument `arg` of `schema` (of type `type`: the argument's own, or an optional's
// element) given `v`: converted as the schema expects, UT_DEFAULT taking the schema's default; a
// value that cannot fit is an error naming the function and the argument.
c10::IValue to_ivalue(const c10::FunctionSchema& schema, const c10::Argument& arg,
                      const c10::TypePtr& type, const ut_value& v);

// `iv` as a tagged value (a tensor handle, scalar or list the caller then owns).
void from_ivalue(const c10::IValue& iv, ut_value& out);

}  // namespace ut
