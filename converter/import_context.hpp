#pragma once
// The importer's state while it walks an ONNX graph, and the view of one node
// that the op importers (import_*.cpp) work through.
//
// Every ONNX tensor name maps to a Value: a graph tensor (always float32), a
// constant known at conversion time (an initializer, a Constant node or a
// folded shape sub-graph), or both. A constant becomes a graph constant tensor
// the first time a graph node reads it (once per name).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "converter/attributes.hpp"
#include "converter/host_tensor.hpp"
#include "engine/core/graph.hpp"
#include "kiln/convert.hpp"
#include "onnx/onnx_pb.h"

namespace kiln::onnx_import {

struct Value {
  DType dtype = dtype::kFloat;
  Shape shape;
  TensorId graph = -1;                       // the graph tensor, once there is one
  const onnx::TensorProto* proto = nullptr;  // an undecoded constant (decoded on demand)
  std::shared_ptr<const HostTensor> host;    // a decoded constant
  // A Kiln op on constants, folded on the host but emitted as a graph node
  // (index into the ONNX nodes) when a graph node reads it, so that the
  // imported graph keeps it for the fold_constants pass.
  int deferred_node = -1;

  bool is_constant() const { return proto != nullptr || host != nullptr; }
};

class NodeContext;
using ImportFn = void (*)(NodeContext&);

// The importer of an ONNX op that Kiln runs as a graph node, or nullptr.
ImportFn find_importer(std::string_view op);

class Importer {
 public:
  Importer(const onnx::ModelProto& model, const ConvertOptions& options, ConvertReport& report);
  Graph run();

  // ---- Used by NodeContext ----------------------------------------------
  int64_t opset() const { return opset_; }
  Value& value(const std::string& name, const std::string& where);
  // The graph tensor for `name`: materialises a float constant or emits a
  // deferred node. Non-float constants are Unsupported.
  TensorId graph_tensor(const std::string& name, const std::string& where);
  const HostTensor& host_value(const std::string& name, const std::string& where);
  // The graph constant for an integer constant `name` (uint8, int8 or int32)
  // with quantization `quant` (import_quantize.cpp); made once per name.
  TensorId quantized_constant(const std::string& name, const std::string& where, QuantParams quant);
  Graph& graph() { return graph_; }
  // A fresh graph tensor named after `base` (made unique).
  TensorId new_tensor(const std::string& base);
  // Appends `node` after inferring its output shapes.
  void add_node(Node node);
  // Whether a node or graph output reads `name`.
  bool is_used(const std::string& name) const { return used_names_.count(name) != 0; }
  // Binds an ONNX output name to a graph tensor.
  void bind_output(const std::string& name, TensorId id);
  // The --batch heuristic for Reshape targets (see import.cpp).
  std::vector<int64_t> adjust_reshape_batch(const Shape& input, std::vector<int64_t> target, const std::string& where);
  void warn(std::string message) { report_.warnings.push_back(std::move(message)); }

 private:
  std::string node_name(int index) const;
  std::string unique_name(const std::string& base);
  void read_opset();
  void check_ops_supported() const;
  void add_initializers();
  void add_inputs();
  void import_node(int index);
  void define_constant(const onnx::NodeProto& node, const std::string& where);
  void define_host(const std::string& name, HostTensor t, int deferred_node = -1);
  void emit_deferred(int index);
  void add_outputs();

  const onnx::ModelProto& model_;
  const onnx::GraphProto& onnx_graph_;
  const ConvertOptions& options_;
  ConvertReport& report_;
  int64_t opset_ = 0;
  Graph graph_;
  std::unordered_map<std::string, Value> values_;
  std::unordered_set<std::string> used_names_;    // read by a node or a graph output
  std::unordered_set<std::string> output_names_;  // graph outputs
  std::unordered_set<std::string> tensor_names_;  // names given to graph tensors
  std::optional<int64_t> exported_batch_;         // first input's static batch, when --batch overrides it
  int rescaled_reshapes_ = 0;                     // Reshape targets changed by the --batch heuristic
  std::string first_rescaled_;
};

// One ONNX node being imported.
class NodeContext {
 public:
  NodeContext(Importer& importer, const onnx::NodeProto& node, std::string name);

  const std::string& name() const { return name_; }
  const std::string& op() const { return node_.op_type(); }
  const std::string& where() const { return where_; }  // "node 'name' (Op)"
  int64_t opset() const { return importer_.opset(); }
  const Attributes& attrs() const { return attrs_; }
  const onnx::NodeProto& proto() const { return node_; }
  Importer& importer() { return importer_; }

  // ---- Inputs (i indexes the ONNX node's inputs) ---------------------------
  size_t num_inputs() const { return static_cast<size_t>(node_.input_size()); }
  bool has_input(size_t i) const { return i < num_inputs() && !node_.input(static_cast<int>(i)).empty(); }
  const std::string& input_name(size_t i) const { return node_.input(static_cast<int>(i)); }
  // Throws InvalidModel unless inputs 0..min-1 are present and there are at most `max`.
  void require_inputs(size_t min, size_t max) const;
  const Shape& shape(size_t i);
  bool is_constant(size_t i);
  // A data input as a graph tensor (float constants become graph constants).
  TensorId tensor(size_t i);
  // A parameter input that must be known at conversion time; `what` names it.
  const HostTensor& constant(size_t i, const std::string& what);
  std::vector<int64_t> constant_ints(size_t i, const std::string& what);
  float constant_float(size_t i, const std::string& what);  // a one-element tensor

  // ---- Outputs ------------------------------------------------------------
  size_t num_outputs() const { return static_cast<size_t>(node_.output_size()); }
  // Whether output i exists and a node or graph output reads it.
  bool output_used(size_t i) const;

  [[noreturn]] void unsupported(const std::string& what) const;
  [[noreturn]] void invalid(const std::string& what) const;

  // Emits the Kiln node for this ONNX node, writing its first `n_outputs` outputs.
  void emit(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs, size_t n_outputs = 1);
  // Emits a helper node (e.g. a Reshape before a legacy broadcast) writing a
  // fresh tensor, and returns that tensor.
  TensorId emit_helper(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs, const std::string& suffix);

 private:
  Importer& importer_;
  const onnx::NodeProto& node_;
  std::string name_;
  std::string where_;
  Attributes attrs_;
};

// Converts ONNX int64 attribute values to the int32 the Kiln tables hold.
std::vector<int32_t> to_int32(const std::vector<int64_t>& v, const NodeContext& ctx, const char* what);

// An ints attribute the node must have (InvalidModel when it is missing).
std::vector<int64_t> required_ints(NodeContext& ctx, const char* name);

}  // namespace kiln::onnx_import
