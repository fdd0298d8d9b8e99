#include <algorithm>

#include "engine/passes/passes.hpp"

namespace kiln {

int eliminate_identity(Graph& graph) {
  int removed = 0;
  const std::vector<int> producer = graph.producers();
  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    if (node.op != OpType::Identity && node.op != OpType::Dropout) {
      kept.push_back(std::move(node));
      continue;
    }
    const TensorId in = node.inputs[0];
    const TensorId out = node.outputs[0];
    if (!graph.is_graph_output(out)) {
      graph.replace_uses(out, in);
    } else if (producer[in] >= 0 && !graph.is_graph_output(in)) {
      // Keep the graph output's name: the producer writes `out` directly.
      // The producer precedes this node, so it is already in `kept`, and so
      // is any node between them that reads `in`: rename in both places
      // (graph.nodes only holds moved-from husks for the kept ones).
      for (Node& p : kept) {
        for (TensorId& t : p.outputs)
          if (t == in) t = out;
        for (TensorId& t : p.inputs)
          if (t == in) t = out;
      }
      graph.replace_uses(in, out);
    } else {
      kept.push_back(std::move(node));  // a graph input or constant passed straight through
      continue;
    }
    ++removed;
  }
  graph.nodes = std::move(kept);
  return removed;
}

}  // namespace kiln
