#include "engine/core/residual.hpp"

namespace kiln {

ResidualAdd residual_after(const Graph& g, const std::vector<std::vector<int>>& consumers,
                           const std::vector<int>& producers, int conv, int first) {
  const Node& node = g.nodes[static_cast<size_t>(conv)];
  const TensorId out = node.outputs[0];
  const auto& readers = consumers[static_cast<size_t>(out)];
  if (attrs_as<fb::ConvAttrsT>(node).activation.kind() != fb::ActivationKind::None || readers.size() != 1 ||
      g.is_graph_output(out))
    return {};
  const Node& add = g.nodes[static_cast<size_t>(readers[0])];
  if (add.op != OpType::Add || add.inputs.size() != 2) return {};
  const TensorId other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
  if (other == out || g.tensor(other).is_constant() || g.shape(other) != g.shape(out) ||
      g.shape(add.outputs[0]) != g.shape(out))
    return {};
  if (producers[static_cast<size_t>(other)] >= first) return {};
  return {other, readers[0]};
}

}  // namespace kiln
