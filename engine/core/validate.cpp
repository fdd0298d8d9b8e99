#include "engine/core/validate.hpp"

#include <cmath>
#include <unordered_set>

#include "engine/core/checked_size.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/quantization.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/core/shape_inference.hpp"  // kMaxRank

namespace kiln {

namespace {

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::InvalidModel, what); }

SizeSource source_of(const TensorInfo& t) { return {"tensor '" + t.name + "'", ErrorCode::InvalidModel}; }

void check_shape(const TensorInfo& t) {
  if (t.shape.size() > kMaxRank)
    fail("tensor '" + t.name + "' has rank " + std::to_string(t.shape.size()) + " (at most 8 supported)");
  checked_element_count(t.shape, source_of(t));
}

// A constant's bytes must all be there: a shape alone must never make
// anything allocate or read more than the file holds.
void check_constant_size(const TensorInfo& t) {
  const auto expected = static_cast<uint64_t>(checked_byte_count(t.shape, dtype_size(t.dtype), source_of(t)));
  if (t.constant->size_bytes() != expected)
    fail("constant '" + t.name + "' holds " + std::to_string(t.constant->size_bytes()) + " bytes but its shape " +
         shape_to_string(t.shape) + " needs " + std::to_string(expected));
}

void check_dtype_and_quant(const TensorInfo& t) {
  const std::string what = "tensor '" + t.name + "'";
  switch (t.dtype) {
    case DataType::Float32:
    case DataType::UInt8:
    case DataType::Int8:
    case DataType::Int32: break;
    default:
      throw Error(ErrorCode::Unsupported, what + " has data type " + fb::EnumNameDataType(t.dtype) +
                                              "; Kiln runs float32, uint8, int8 and int32 tensors");
  }
  if (is_quantized_dtype(t.dtype) && !t.quant)
    fail(what + " is " + fb::EnumNameDataType(t.dtype) + " but has no quantization parameters (scale, zero point)");
  if (t.dtype == DataType::Int32 && !t.is_constant())
    throw Error(ErrorCode::Unsupported, what + ": int32 is supported for constants (quantized biases) only");
  if (!t.quant) return;
  const QuantParams& q = *t.quant;
  if (t.dtype == DataType::Float32) fail(what + " is float32 but carries quantization parameters");
  if (q.scale.empty()) fail(what + " has quantization parameters without a scale");
  if (q.scale.size() != q.zero_point.size())
    fail(what + " has " + std::to_string(q.scale.size()) + " scales but " + std::to_string(q.zero_point.size()) +
         " zero points");
  if (q.axis < -1) fail(what + " has quantization axis " + std::to_string(q.axis) + " (expected -1 or an axis)");
  if (q.axis < 0 && q.scale.size() != 1)
    fail(what + " is quantized per tensor but has " + std::to_string(q.scale.size()) + " scales");
  if (q.axis >= 0) {
    if (q.axis >= static_cast<int>(t.shape.size()))
      fail(what + " has quantization axis " + std::to_string(q.axis) + " but rank " + std::to_string(t.shape.size()));
    if (static_cast<int64_t>(q.scale.size()) != t.shape[static_cast<size_t>(q.axis)])
      fail(what + " is quantized along axis " + std::to_string(q.axis) + " of size " +
           std::to_string(t.shape[static_cast<size_t>(q.axis)]) + " but has " + std::to_string(q.scale.size()) +
           " scales");
  }
  const quant::Range r = t.dtype == DataType::UInt8 ? quant::kUint8Range
                         : t.dtype == DataType::Int8 ? quant::kInt8Range
                                                     : quant::Range{0, 0};
  for (size_t i = 0; i < q.scale.size(); ++i) {
    if (!(std::isfinite(q.scale[i]) && q.scale[i] > 0))
      fail(what + " has scale " + std::to_string(q.scale[i]) + " at index " + std::to_string(i) +
           " (scales must be positive and finite)");
    if (q.zero_point[i] < r.lo || q.zero_point[i] > r.hi) {
      std::string range = "{0} for int32";
      if (t.dtype != DataType::Int32) {
        range = std::string("[") + (t.dtype == DataType::UInt8 ? "0, 255" : "-128, 127");
        range += "] for ";
        range += fb::EnumNameDataType(t.dtype);
      }
      fail(what + " has zero point " + std::to_string(q.zero_point[i]) + " at index " + std::to_string(i) +
           ", outside " + range);
    }
  }
}

}  // namespace

void validate_graph(const Graph& graph) {
  const size_t nt = graph.tensors.size();
  auto check_id = [&](TensorId id, const std::string& where) {
    if (id < 0 || static_cast<size_t>(id) >= nt)
      fail(where + " refers to tensor index " + std::to_string(id) + ", but the model has " + std::to_string(nt) +
           " tensors");
  };

  std::unordered_set<std::string_view> names;
  for (const TensorInfo& t : graph.tensors) {
    if (t.name.empty()) fail("a tensor has an empty name");
    if (!names.insert(t.name).second) fail("tensor name '" + t.name + "' is used twice");
    check_shape(t);
    check_dtype_and_quant(t);
    if (t.constant) check_constant_size(t);
  }

  // available[t]: t may be read by the next node (constant, graph input, or produced earlier).
  std::vector<char> available(nt, 0), produced(nt, 0);
  for (size_t i = 0; i < nt; ++i) available[i] = graph.tensors[i].is_constant();
  if (graph.inputs.empty()) fail("the model has no inputs");
  if (graph.outputs.empty()) fail("the model has no outputs");
  for (TensorId id : graph.inputs) {
    check_id(id, "the model's input list");
    if (graph.tensor(id).is_constant()) fail("graph input '" + graph.tensor(id).name + "' is a constant");
    if (available[id]) fail("graph input '" + graph.tensor(id).name + "' is listed twice");
    available[id] = 1;
  }

  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    const std::string where = "node " + std::to_string(n) + " '" + node.name + "'";
    if (static_cast<size_t>(node.op) > static_cast<size_t>(fb::OpType::MAX))
      fail(where + " has unknown operator code " + std::to_string(static_cast<int>(node.op)));
    for (TensorId id : node.inputs) {
      check_id(id, where);
      if (!available[id])
        fail(where + " reads tensor '" + graph.tensor(id).name +
             "' before any node produces it (nodes out of topological order, a cycle, or a missing input)");
    }
    for (TensorId id : node.outputs) {
      check_id(id, where);
      if (available[id] || produced[id])
        fail(where + " writes tensor '" + graph.tensor(id).name +
             "', which is already a constant, a graph input or another node's output");
      produced[id] = available[id] = 1;
    }
  }
  for (TensorId id : graph.outputs) {
    check_id(id, "the model's output list");
    if (!produced[id] && !graph.is_graph_input(id))
      fail("graph output '" + graph.tensor(id).name + "' is not produced by any node");
  }
  // Shapes first: check_shapes also checks each node's input and output counts,
  // which check_node_dtypes relies on (it reads inputs[0], inputs[1], outputs[0]).
  check_shapes(graph);
  for (const Node& node : graph.nodes) check_node_dtypes(graph, node);
}

}  // namespace kiln
