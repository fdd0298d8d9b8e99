#include <array>

#include "engine/core/validate.hpp"
#include "engine/passes/passes.hpp"

namespace kiln {

namespace {
constexpr std::array<Pass, 6> kConvertTimePasses = {{
    {"eliminate_identity", "drop Identity and inference-mode Dropout", eliminate_identity},
    {"fold_constants", "evaluate nodes whose inputs are all constants", fold_constants},
    {"fold_batchnorm", "fold BatchNormalization into the preceding Conv/Gemm", fold_batchnorm},
    {"fuse_activations", "move activations into the producing Conv/Gemm/binary op", fuse_activations},
    {"fold_qdq", "turn DequantizeLinear -> op -> QuantizeLinear into quantized ops", fold_qdq},
    {"remove_dead_nodes", "drop nodes whose outputs nobody reads", remove_dead_nodes},
}};
}  // namespace

std::span<const Pass> convert_time_passes() { return kConvertTimePasses; }

const Pass* find_pass(std::string_view name) {
  for (const Pass& p : kConvertTimePasses)
    if (p.name == name) return &p;
  return nullptr;
}

void run_passes(Graph& graph, std::span<const Pass> passes) {
  for (const Pass& pass : passes) {
    const int rewrites = pass.run(graph);
    graph.remove_unused_tensors();
    try {
      validate_graph(graph);
    } catch (const Error& e) {
      throw Error(ErrorCode::Internal, "pass " + std::string(pass.name) + " left an invalid graph: " + e.what());
    }
    graph.passes_applied.push_back(std::string(pass.name) + ": " + std::to_string(rewrites) + " rewrites");
  }
}

int remove_dead_nodes(Graph& graph) {
  int removed = 0;
  // Walk backwards so that a chain of dead nodes goes in one call.
  std::vector<char> read(graph.tensors.size(), 0);
  for (TensorId t : graph.outputs) read[t] = 1;
  std::vector<Node> kept;
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    Node& n = graph.nodes[i];
    bool live = false;
    for (TensorId t : n.outputs) live = live || read[t];
    if (!live) {
      ++removed;
      continue;
    }
    for (TensorId t : n.inputs) read[t] = 1;
    kept.push_back(std::move(n));
  }
  graph.nodes.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  return removed;
}

}  // namespace kiln
