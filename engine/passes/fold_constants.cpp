#include <algorithm>

#include "engine/passes/passes.hpp"
#include "engine/runtime/backend_registry.hpp"

namespace kiln {

namespace {

// Evaluates one node whose inputs are all constants on the reference backend,
// the oracle every other backend is checked against.
std::vector<ConstantData> evaluate(const Graph& graph, const Node& node, Backend& backend) {
  auto mini = std::make_shared<Graph>();
  Node copy;
  copy.name = node.name;
  copy.op = node.op;
  copy.attrs = node.attrs;
  std::vector<const float*> inputs;
  for (TensorId t : node.inputs) {
    // The constants become inputs of the one-node graph.
    const TensorId id = mini->add_tensor("in" + std::to_string(mini->tensors.size()), graph.shape(t));
    mini->tensors.back().dtype = graph.tensor(t).dtype;
    mini->tensors.back().quant = graph.tensor(t).quant;
    mini->inputs.push_back(id);
    copy.inputs.push_back(id);
    inputs.push_back(graph.tensor(t).constant->floats());
  }
  // Float buffers rounded up: the executable reads and writes bytes of each tensor's dtype.
  std::vector<std::vector<float>> results;
  std::vector<float*> outputs;
  for (TensorId t : node.outputs) {
    const TensorId id = mini->add_tensor("out" + std::to_string(mini->tensors.size()), graph.shape(t));
    mini->tensors.back().dtype = graph.tensor(t).dtype;
    mini->tensors.back().quant = graph.tensor(t).quant;
    mini->outputs.push_back(id);
    copy.outputs.push_back(id);
    const size_t bytes = static_cast<size_t>(element_count(graph.shape(t))) * dtype_size(graph.tensor(t).dtype);
    results.emplace_back((bytes + sizeof(float) - 1) / sizeof(float));
  }
  for (auto& r : results) outputs.push_back(r.data());
  mini->nodes.push_back(std::move(copy));
  auto exe = backend.compile(mini, BackendOptions{});
  exe->run(inputs, outputs);
  std::vector<ConstantData> out;
  for (size_t i = 0; i < results.size(); ++i) {
    const TensorInfo& t = graph.tensor(node.outputs[i]);
    out.push_back(
        ConstantData::copy_of(results[i].data(), static_cast<size_t>(element_count(t.shape)) * dtype_size(t.dtype)));
  }
  return out;
}

// See kMaxFoldGrowthBytes: such a node stays, computed at run time.
bool folding_would_grow(const Graph& graph, const Node& node) {
  uint64_t in = 0, out = 0;
  for (TensorId t : node.inputs) in += graph.tensor(t).constant->size_bytes();
  for (TensorId t : node.outputs)
    out += static_cast<uint64_t>(element_count(graph.shape(t))) * dtype_size(graph.tensor(t).dtype);
  return out > std::max(in, kMaxFoldGrowthBytes);
}

}  // namespace

int fold_constants(Graph& graph) {
  std::unique_ptr<Backend> reference;
  int folded = 0;
  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    // A DequantizeLinear of a constant stays for fold_qdq, which may fold it into a quantized op.
    bool all_const = !node.inputs.empty() && node.op != OpType::DequantizeLinear;
    for (TensorId t : node.inputs) all_const = all_const && graph.tensor(t).is_constant();
    // Graph outputs stay computed so that the model keeps at least one node
    // producing each output.
    bool feeds_output = false;
    for (TensorId t : node.outputs) feeds_output = feeds_output || graph.is_graph_output(t);
    if (!all_const || feeds_output || folding_would_grow(graph, node)) {
      kept.push_back(std::move(node));
      continue;
    }
    if (!reference) reference = BackendRegistry::global().create("reference");
    std::vector<ConstantData> values = evaluate(graph, node, *reference);
    for (size_t i = 0; i < node.outputs.size(); ++i) graph.tensor(node.outputs[i]).constant = std::move(values[i]);
    ++folded;
  }
  graph.nodes = std::move(kept);
  return folded;
}

}  // namespace kiln
