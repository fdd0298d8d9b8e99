#include "engine/runtime/lowering.hpp"

namespace kiln {

LoweringBase::LoweringBase(std::shared_ptr<const Graph> graph) : graph_(std::move(graph)) {
  const Graph& g = *graph_;
  lowered.tensors = g.tensors;
  lowered.inputs = g.inputs;
  lowered.outputs = g.outputs;
  details.assign(g.nodes.size(), "");
  skip_.assign(g.nodes.size(), 0);
  consumers_ = g.consumers();
  producers_ = g.producers();
}

void LoweringBase::conv_visited(int node) {
  if (!progress_) return;
  const Graph& g = *graph_;
  if (conv_total_ < 0) {
    conv_total_ = 0;
    for (const Node& n : g.nodes) conv_total_ += n.op == OpType::Conv;
    conv_seen_.assign(g.nodes.size(), 0);
  }
  char& seen = conv_seen_[static_cast<size_t>(node)];
  if (seen) return;
  seen = 1;
  progress_(Progress{"convolution layers", ++conv_done_, conv_total_});
}

void LoweringBase::fuse_into(int node, int into) {
  skip_[static_cast<size_t>(node)] = 1;
  details[static_cast<size_t>(node)] = "fused into " + graph_->nodes[static_cast<size_t>(into)].name;
}

void LoweringBase::add_lowered_node(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out) {
  Node n;
  n.name = graph_->nodes[static_cast<size_t>(node)].name;
  n.op = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  lowered.nodes.push_back(std::move(n));
}

}  // namespace kiln
