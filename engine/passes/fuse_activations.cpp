#include "engine/core/activation.hpp"
#include "engine/core/op_info.hpp"
#include "engine/passes/passes.hpp"

namespace kiln {

namespace {

// The producer's epilogue slot, or nullptr if it cannot take an activation.
fb::FusedActivation* epilogue_of(Node& node) {
  switch (node.op) {
    case OpType::Conv: return &attrs_as<fb::ConvAttrsT>(node).activation;
    case OpType::Gemm: return &attrs_as<fb::GemmAttrsT>(node).activation;
    case OpType::Add:
    case OpType::Sub:
    case OpType::Mul:
    case OpType::Div: return &attrs_as<fb::BinaryAttrsT>(node).activation;
    default: return nullptr;
  }
}

}  // namespace

int fuse_activations(Graph& graph) {
  int fused = 0;
  const std::vector<int> producer = graph.producers();
  const std::vector<std::vector<int>> consumers = graph.consumers();
  std::vector<char> removed(graph.nodes.size(), 0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& act = graph.nodes[i];
    if (!is_unary_activation(act.op)) continue;
    const TensorId mid = act.inputs[0];
    const int p = producer[mid];
    if (p < 0 || removed[p] || consumers[mid].size() != 1 || graph.is_graph_output(mid)) continue;
    fb::FusedActivation* slot = epilogue_of(graph.nodes[p]);
    if (slot == nullptr || slot->kind() != fb::ActivationKind::None) continue;
    *slot = fused_form_of(act);
    graph.nodes[p].outputs[0] = act.outputs[0];
    removed[i] = 1;
    ++fused;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
  return fused;
}

}  // namespace kiln
