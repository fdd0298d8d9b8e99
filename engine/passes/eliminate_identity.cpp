#include <numeric>

#include "engine/passes/passes.hpp"

namespace kiln {

// Uses are redirected through `alias` rather than by rewriting every node for
// each Identity (Graph::replace_uses), which made a graph with N Identity
// nodes take O(N^2): 6 s for 20k branches. Nodes are in topological order, so
// a node's inputs, resolved when it is reached, already see every Identity
// before it; one last pass applies the renames made after it.
int eliminate_identity(Graph& graph) {
  int removed = 0;
  const std::vector<int> producer = graph.producers();
  std::vector<char> is_output(graph.tensors.size(), 0);
  for (TensorId t : graph.outputs) is_output[static_cast<size_t>(t)] = 1;
  std::vector<TensorId> alias(graph.tensors.size());
  std::iota(alias.begin(), alias.end(), TensorId{0});
  auto resolve = [&](TensorId t) {
    while (alias[static_cast<size_t>(t)] != t) t = alias[static_cast<size_t>(t)];
    return t;
  };

  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    for (TensorId& t : node.inputs) t = resolve(t);
    if (node.op != OpType::Identity && node.op != OpType::Dropout) {
      kept.push_back(std::move(node));
      continue;
    }
    const TensorId in = node.inputs[0];
    const TensorId out = node.outputs[0];
    if (!is_output[static_cast<size_t>(out)]) {
      alias[static_cast<size_t>(out)] = in;
    } else if (producer[static_cast<size_t>(in)] >= 0 && !is_output[static_cast<size_t>(in)]) {
      // Keep the graph output's name: the producer writes `out` directly,
      // and every reader of `in`, before or after this node, reads `out`.
      alias[static_cast<size_t>(in)] = out;
    } else {
      kept.push_back(std::move(node));  // a graph input or constant passed straight through
      continue;
    }
    ++removed;
  }
  // Only renames of a producer's output (the second case) can reach an
  // output here: an eliminated Identity's own output has no other writer.
  for (Node& n : kept) {
    for (TensorId& t : n.inputs) t = resolve(t);
    for (TensorId& t : n.outputs) t = resolve(t);
  }
  graph.nodes = std::move(kept);
  return removed;
}

}  // namespace kiln
