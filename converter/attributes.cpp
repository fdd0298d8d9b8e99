#include "converter/attributes.hpp"

#include "converter/errors.hpp"

namespace kiln::onnx_import {

Attributes::Attributes(const onnx::NodeProto& node, std::string where) : node_(node), where_(std::move(where)) {}

const onnx::AttributeProto* Attributes::find(std::string_view name) const {
  for (const auto& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// Old exporters leave AttributeProto.type unset; then the field that holds a
// value decides.
const onnx::AttributeProto& Attributes::expect(const onnx::AttributeProto& a, onnx::AttributeProto::AttributeType type,
                                               bool present, const char* kind) const {
  const bool ok = a.type() == type || (a.type() == onnx::AttributeProto::UNDEFINED && present);
  if (!ok) throw_invalid(where_ + ": attribute '" + a.name() + "' should be " + kind);
  return a;
}

int64_t Attributes::get_int(std::string_view name, int64_t fallback) const {
  const auto* a = find(name);
  if (!a) return fallback;
  return expect(*a, onnx::AttributeProto::INT, a->has_i(), "an int").i();
}

float Attributes::get_float(std::string_view name, float fallback) const {
  const auto* a = find(name);
  if (!a) return fallback;
  return expect(*a, onnx::AttributeProto::FLOAT, a->has_f(), "a float").f();
}

std::string Attributes::get_string(std::string_view name, const std::string& fallback) const {
  const auto* a = find(name);
  if (!a) return fallback;
  return expect(*a, onnx::AttributeProto::STRING, a->has_s(), "a string").s();
}

std::optional<std::vector<int64_t>> Attributes::get_ints(std::string_view name) const {
  const auto* a = find(name);
  if (!a) return std::nullopt;
  const auto& v = expect(*a, onnx::AttributeProto::INTS, true, "a list of ints").ints();
  return std::vector<int64_t>(v.begin(), v.end());
}

std::optional<std::vector<float>> Attributes::get_floats(std::string_view name) const {
  const auto* a = find(name);
  if (!a) return std::nullopt;
  const auto& v = expect(*a, onnx::AttributeProto::FLOATS, true, "a list of floats").floats();
  return std::vector<float>(v.begin(), v.end());
}

const onnx::TensorProto* Attributes::get_tensor(std::string_view name) const {
  const auto* a = find(name);
  if (!a) return nullptr;
  return &expect(*a, onnx::AttributeProto::TENSOR, a->has_t(), "a tensor").t();
}

}  // namespace kiln::onnx_import
