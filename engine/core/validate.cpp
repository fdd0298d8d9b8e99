#include "engine/core/validate.hpp"

#include <unordered_set>

#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"  // kMaxRank

namespace kiln {

namespace {
constexpr int64_t kMaxElements = int64_t{1} << 36;  // 256 GiB of float32: beyond any real model

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::InvalidModel, what); }

void check_shape(const TensorInfo& t) {
  if (t.shape.size() > kMaxRank)
    fail("tensor '" + t.name + "' has rank " + std::to_string(t.shape.size()) + " (at most 8 supported)");
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0) fail("tensor '" + t.name + "' has a negative dimension " + shape_to_string(t.shape));
    if (d > kMaxElements || (d > 0 && n > kMaxElements / d))
      fail("tensor '" + t.name + "' is implausibly large " + shape_to_string(t.shape));
    n *= d;
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
    if (t.dtype != DataType::Float32)
      throw Error(ErrorCode::Unsupported, "tensor '" + t.name + "' has data type " +
                                              fb::EnumNameDataType(t.dtype) + "; Kiln runs float32 models only");
    check_shape(t);
    if (t.constant) {
      const uint64_t expected = static_cast<uint64_t>(element_count(t.shape)) * dtype_size(t.dtype);
      if (t.constant->size_bytes() != expected)
        fail("constant '" + t.name + "' holds " + std::to_string(t.constant->size_bytes()) + " bytes but its shape " +
             shape_to_string(t.shape) + " needs " + std::to_string(expected));
    }
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
  check_shapes(graph);
}

}  // namespace kiln
