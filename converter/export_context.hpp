#pragma once
// Writing a Kiln graph as an ONNX model (the reverse of import_context.hpp):
// the Exporter walks the graph in node order and hands each node to the
// exporter of its op family (op_exporters.hpp), which adds ONNX nodes through
// the helpers below. Constants become initializers on first use; a quantized
// tensor's QuantParams become the scale and zero-point inputs of the
// QuantizeLinear or DequantizeLinear that makes or reads it.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "onnx/onnx_pb.h"

namespace kiln::onnx_export {

// The default-domain opset written: per-axis QuantizeLinear/DequantizeLinear
// need 13, HardSwish 14.
inline constexpr int64_t kOpset = 14;

// A node that has no ONNX form: Unsupported, naming the node and op.
[[noreturn]] void no_onnx_form(const Node& n, const std::string& why);

class Exporter {
 public:
  Exporter(const Graph& graph, onnx::GraphProto& out);
  void run();  // every node, then the graph inputs and outputs

  const Graph& graph() const { return graph_; }
  // The ONNX name of a tensor (its Kiln name); a constant becomes an initializer.
  std::string input(TensorId t);
  std::vector<std::string> inputs(const Node& n);
  const std::string& output(TensorId t) const { return graph_.tensor(t).name; }
  // A tensor name that no Kiln tensor and no earlier fresh name has.
  std::string fresh_name(const std::string& base);

  onnx::NodeProto& add_node(const std::string& op_type, const std::string& name, const std::vector<std::string>& in,
                            const std::vector<std::string>& out);
  // 1-D int64 and scalar float initializers (ONNX takes Slice's starts, Clip's
  // bounds and the like as inputs).
  std::string ints_initializer(const std::string& base, const std::vector<int64_t>& values);
  std::string float_initializer(const std::string& base, float value);
  // The scale and zero point of quantized tensor `t`, as initializers (zero
  // point "" for int32, whose zero point ONNX defaults to 0).
  std::pair<std::string, std::string> quant_inputs(TensorId t);

  // An op with a fused activation writes a fresh tensor, and an explicit
  // activation node then writes the op's output: activation_input names the
  // tensor the op writes, emit_activation adds the activation (none for kind None).
  std::string activation_input(const Node& n, const fb::FusedActivation& act);
  void emit_activation(const Node& n, const fb::FusedActivation& act, const std::string& in);

 private:
  void add_initializer(const TensorInfo& t, const std::string& name);
  const Graph& graph_;
  onnx::GraphProto& out_;
  std::set<std::string> names_;
  std::vector<char> emitted_;  // per constant tensor: already an initializer
  std::map<TensorId, std::pair<std::string, std::string>> quant_inputs_;
};

void set_int(onnx::NodeProto& n, const char* name, int64_t v);
void set_float(onnx::NodeProto& n, const char* name, float v);
// An empty list is left out: in Kiln's attributes as in ONNX that means the default.
template <class T>
void set_ints(onnx::NodeProto& n, const char* name, const std::vector<T>& v) {
  if (v.empty()) return;
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (T x : v) a->add_ints(static_cast<int64_t>(x));
}

}  // namespace kiln::onnx_export
