#pragma once
// What every backend's lowering shares. A backend is a small Executable plus
// one lowering function per op family (kernels/<backend>/ops/<family>.*),
// which its executable calls through a table indexed by op type; each
// function turns one node (and possibly the nodes it fuses) into the
// backend's steps. LoweringBase holds the bookkeeping common to all of them:
// the graph and its readers and writers, the lowered graph the memory
// planner sees (the steps as nodes), a detail string per node for
// `kiln inspect`/`bench`, and which nodes were fused into another's step.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "kiln/kiln.hpp"
#include "engine/core/op_info.hpp"

namespace kiln {

class LoweringBase {
 public:
  explicit LoweringBase(std::shared_ptr<const Graph> graph);

  const Graph& graph() const { return *graph_; }
  const Node& node(int i) const { return graph_->nodes[static_cast<size_t>(i)]; }
  bool is_const(TensorId t) const { return graph_->tensor(t).is_constant(); }
  // For each tensor: the nodes reading it, and the node writing it (-1: none).
  const std::vector<std::vector<int>>& consumers() const { return consumers_; }
  const std::vector<int>& producers() const { return producers_; }

  void set_detail(int node, std::string detail) { details[static_cast<size_t>(node)] = std::move(detail); }
  void append_detail(int node, const std::string& more) { details[static_cast<size_t>(node)] += more; }
  // Node `node` runs inside the step of node `into`: the walk skips it.
  void fuse_into(int node, int into);
  bool skipped(int node) const { return skip_[static_cast<size_t>(node)] != 0; }
  // Reports SessionOptions::progress: conv node `node` has its algorithm (the
  // first call per node counts; fused and skipped nodes count when passed).
  void set_progress(ProgressCallback progress) { progress_ = std::move(progress); }
  void conv_visited(int node);
  // Adds a node to the lowered graph (the planner's view of a step).
  void add_lowered_node(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out);

  Graph lowered;  // tensors as stored (backends may add some), nodes as steps
  std::vector<std::string> details;

 protected:
  std::shared_ptr<const Graph> graph_;

 private:
  std::vector<std::vector<int>> consumers_;
  std::vector<int> producers_;
  std::vector<char> skip_;
  ProgressCallback progress_;
  std::vector<char> conv_seen_;
  int conv_done_ = 0, conv_total_ = -1;
};

// Declares a backend's lowering functions, one per op family, each defined
// in its kernels/<backend>/ops/<family> file: lower_conv(L&, int node), ...
#define KILN_DECLARE_FAMILY_LOWERINGS(L) \
  void lower_conv(L& l, int node);       \
  void lower_pool(L& l, int node);       \
  void lower_activation(L& l, int node); \
  void lower_binary(L& l, int node);     \
  void lower_batchnorm(L& l, int node);  \
  void lower_softmax(L& l, int node);    \
  void lower_matmul(L& l, int node);     \
  void lower_reduce(L& l, int node);     \
  void lower_shape(L& l, int node);      \
  void lower_data_movement(L& l, int node); \
  void lower_quantize(L& l, int node)

// A backend's lowering table, indexed by OpType: each op gets its family's
// function (found next to L by argument-dependent lookup), so that every op
// has a row by construction; a family without a function does not compile.
template <class L>
constexpr std::array<void (*)(L&, int), kOpCount> lowering_table() {
  return table_by_op<void (*)(L&, int)>({
      .conv = [](L& l, int n) { lower_conv(l, n); },
      .pool = [](L& l, int n) { lower_pool(l, n); },
      .activation = [](L& l, int n) { lower_activation(l, n); },
      .binary = [](L& l, int n) { lower_binary(l, n); },
      .batchnorm = [](L& l, int n) { lower_batchnorm(l, n); },
      .softmax = [](L& l, int n) { lower_softmax(l, n); },
      .matmul = [](L& l, int n) { lower_matmul(l, n); },
      .reduce = [](L& l, int n) { lower_reduce(l, n); },
      .shape = [](L& l, int n) { lower_shape(l, n); },
      .data_movement = [](L& l, int n) { lower_data_movement(l, n); },
      .quantize = [](L& l, int n) { lower_quantize(l, n); },
  });
}

// Lowers every node of l's graph in order through `table`, skipping the
// nodes an earlier lowering fused into its own step.
template <class L>
void lower_graph(L& l, const std::array<void (*)(L&, int), kOpCount>& table) {
  const Graph& g = l.graph();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int n = static_cast<int>(i);
    if (!l.skipped(n)) table[static_cast<size_t>(g.nodes[i].op)](l, n);
    if (g.nodes[i].op == OpType::Conv) l.conv_visited(n);
  }
}

}  // namespace kiln
