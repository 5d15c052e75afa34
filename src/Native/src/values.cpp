// Conversions between the ABI's tagged values and libtorch's IValues, shared by operator calls
// (ops.cpp) and TorchScript method calls (jit.cpp): both are driven by a function schema.
#include "values.h"

#include <ATen/core/jit_type.h>

#include <cstdlib>
#include <sstream>

namespace {

const char* tag_name(int32_t tag) {
  switch (tag) {
    case UT_NONE:
      return "None";
    case UT_TENSOR:
      return "Tensor";
    case UT_INT:
      return "int";
    case UT_DOUBLE:
      return "float";
    case UT_BOOL:
      return "bool";
    case UT_INT_LIST:
      return "int[]";
    case UT_DOUBLE_LIST:
      return "float[]";
    case UT_TENSOR_LIST:
      return "Tensor[]";
    case UT_OPT_TENSOR_LIST:
      return "Tensor?[]";
    case UT_DEVICE:
      return "Device";
    case UT_STRING:
      return "str";
    case UT_GENERATOR:
      return "Generator";
    case UT_BOOL_LIST:
      return "bool[]";
    default:
      return "?";
  }
}

[[noreturn]] void mismatch(const c10::FunctionSchema& schema, const c10::Argument& arg,
                           const ut_value& v) {
  std::ostringstream s;
  s << schema.name() << (schema.overload_name().empty() ? "" : ".") << schema.overload_name()
    << ": argument '" << arg.name() << "' expects " << arg.type()->str() << ", got "
    << tag_name(v.tag);
  throw std::invalid_argument(s.str());
}

const at::Tensor& tensor_of(const ut_value& v) {
  TORCH_CHECK(v.p != nullptr, "a null tensor handle was passed");
  return static_cast<ut_tensor*>(v.p)->t;
}

}  // namespace

namespace ut {

c10::IValue to_ivalue(const c10::FunctionSchema& schema, const c10::Argument& arg,
                      const c10::TypePtr& type, const ut_value& v) {
  using c10::TypeKind;
  if (v.tag == UT_DEFAULT) {
    if (arg.default_value()) return *arg.default_value();
    throw std::invalid_argument(
        c10::str(schema.name(), ": argument '", arg.name(), "' has no default value"));
  }
  switch (type->kind()) {
    case TypeKind::OptionalType:
      if (v.tag == UT_NONE) return c10::IValue();
      return to_ivalue(schema, arg, type->expectRef<c10::OptionalType>().getElementType(), v);
    case TypeKind::TensorType:
      if (v.tag == UT_TENSOR) return tensor_of(v);
      break;
    case TypeKind::IntType:
    case TypeKind::SymIntType:
      if (v.tag == UT_INT) return v.i;
      if (v.tag == UT_BOOL) return static_cast<int64_t>(v.i != 0);
      break;
    case TypeKind::FloatType:
      if (v.tag == UT_DOUBLE) return v.d;
      if (v.tag == UT_INT) return static_cast<double>(v.i);
      break;
    case TypeKind::BoolType:
      if (v.tag == UT_BOOL || v.tag == UT_INT) return v.i != 0;
      break;
    case TypeKind::NumberType:  // Scalar
      if (v.tag == UT_DOUBLE) return v.d;
      if (v.tag == UT_INT) return v.i;
      if (v.tag == UT_BOOL) return v.i != 0;
      break;
    case TypeKind::DeviceObjType:
      if (v.tag == UT_DEVICE)
        return c10::Device(static_cast<c10::DeviceType>(v.i), static_cast<c10::DeviceIndex>(v.n));
      break;
    case TypeKind::StringType:
      if (v.tag == UT_STRING) return std::string(static_cast<const char*>(v.p));
      break;
    case TypeKind::GeneratorType:
      if (v.tag == UT_GENERATOR) return static_cast<ut_generator*>(v.p)->g;
      break;
    case TypeKind::ListType: {
      auto elem = type->expectRef<c10::ListType>().getElementType();
      auto ek = elem->kind();
      if ((ek == TypeKind::IntType || ek == TypeKind::SymIntType)) {
        // An int given for an int[N] argument broadcasts, as in PyTorch (stride=2 -> [2, 2]).
        if (v.tag == UT_INT_LIST) {
          auto* p = static_cast<const int64_t*>(v.p);
          return std::vector<int64_t>(p, p + v.n);
        }
        if (v.tag == UT_INT && arg.N()) return std::vector<int64_t>(*arg.N(), v.i);
      } else if (ek == TypeKind::FloatType && v.tag == UT_DOUBLE_LIST) {
        auto* p = static_cast<const double*>(v.p);
        return std::vector<double>(p, p + v.n);
      } else if (ek == TypeKind::BoolType && v.tag == UT_BOOL_LIST) {
        auto* p = static_cast<const uint8_t*>(v.p);
        c10::List<bool> list;
        for (int32_t i = 0; i < v.n; i++) list.push_back(p[i] != 0);
        return list;
      } else if (ek == TypeKind::TensorType && v.tag == UT_TENSOR_LIST) {
        auto* p = static_cast<ut_tensor* const*>(v.p);
        c10::List<at::Tensor> list;
        list.reserve(v.n);
        for (int32_t i = 0; i < v.n; i++) list.push_back(p[i]->t);
        return list;
      } else if (ek == TypeKind::OptionalType &&
                 (v.tag == UT_OPT_TENSOR_LIST || v.tag == UT_TENSOR_LIST)) {
        auto* p = static_cast<ut_tensor* const*>(v.p);
        c10::List<c10::optional<at::Tensor>> list;
        list.reserve(v.n);
        for (int32_t i = 0; i < v.n; i++) {
          list.push_back(p[i] ? c10::optional<at::Tensor>(p[i]->t) : c10::nullopt);
        }
        return list;
      }
      break;
    }
    default:
      break;
  }
  mismatch(schema, arg, v);
}

void from_ivalue(const c10::IValue& iv, ut_value& out) {
  out = ut_value{UT_NONE, 0, 0, 0.0, nullptr};
  if (iv.isTensor()) {
    const at::Tensor& t = iv.toTensor();
    if (t.defined()) {
      out.tag = UT_TENSOR;
      out.p = ut::wrap(t);
    }
  } else if (iv.isInt()) {
    out.tag = UT_INT;
    out.i = iv.toInt();
  } else if (iv.isDouble()) {
    out.tag = UT_DOUBLE;
    out.d = iv.toDouble();
  } else if (iv.isBool()) {
    out.tag = UT_BOOL;
    out.i = iv.toBool();
  } else if (iv.isTensorList()) {
    auto list = iv.toTensorList();
    auto** arr = static_cast<ut_tensor**>(std::malloc(sizeof(ut_tensor*) * (list.size() + 1)));
    for (size_t i = 0; i < list.size(); i++) arr[i] = ut::wrap(list.get(i));
    out.tag = UT_TENSOR_LIST;
    out.n = static_cast<int32_t>(list.size());
    out.p = arr;
  } else if (iv.isIntList()) {
    auto list = iv.toIntVector();
    auto* arr = static_cast<int64_t*>(std::malloc(sizeof(int64_t) * (list.size() + 1)));
    for (size_t i = 0; i < list.size(); i++) arr[i] = list[i];
    out.tag = UT_INT_LIST;
    out.n = static_cast<int32_t>(list.size());
    out.p = arr;
  } else if (!iv.isNone()) {
    throw std::runtime_error(std::string("unsupported operator result type ") + iv.tagKind());
  }
}

}  // namespace ut
