#pragma once
// Typed access to an ONNX node's attributes, with defaults and checks: an
// attribute of the wrong kind is an InvalidModel error naming the node.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "onnx/onnx_pb.h"

namespace kiln::onnx_import {

class Attributes {
 public:
  // `where` names the node in messages, e.g. "node 'conv1' (Conv)".
  Attributes(const onnx::NodeProto& node, std::string where);

  const onnx::AttributeProto* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }

  int64_t get_int(std::string_view name, int64_t fallback) const;
  float get_float(std::string_view name, float fallback) const;
  std::string get_string(std::string_view name, const std::string& fallback) const;
  std::optional<std::vector<int64_t>> get_ints(std::string_view name) const;
  std::optional<std::vector<float>> get_floats(std::string_view name) const;
  const onnx::TensorProto* get_tensor(std::string_view name) const;

  const std::string& where() const { return where_; }

 private:
  const onnx::AttributeProto& expect(const onnx::AttributeProto& a, onnx::AttributeProto::AttributeType type,
                                     bool present, const char* kind) const;

  const onnx::NodeProto& node_;
  std::string where_;
};

}  // namespace kiln::onnx_import
