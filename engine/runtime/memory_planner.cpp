#include "engine/runtime/memory_planner.hpp"

#include <algorithm>
#include <limits>

#include "engine/core/op_info.hpp"

namespace kiln {

namespace {

struct Group {
  size_t bytes = 0;
  int first = 0;  // time the storage is first written
  int last = 0;   // time of the last read of any member
  int64_t offset = -1;
};


}  // namespace

MemoryPlan plan_memory(const Graph& graph, const std::function<size_t(TensorId)>& bytes_of,
                       const PlannerOptions& options) {
  const size_t nt = graph.tensors.size();
  const int end_of_time = static_cast<int>(graph.nodes.size()) + 1;

  // Time 0 is the copy-in of graph inputs; node i runs at time i + 1.
  std::vector<int> last_use(nt, -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (TensorId t : graph.nodes[i].inputs) last_use[t] = std::max(last_use[t], static_cast<int>(i) + 1);
  for (TensorId t : graph.outputs) last_use[t] = end_of_time;

  std::vector<Group> groups;
  std::vector<int> group_of(nt, -1);
  auto new_group = [&](TensorId t, int time) {
    Group g;
    g.bytes = align_up(bytes_of(t), options.alignment);
    g.first = time;
    g.last = std::max(time, last_use[t]);
    groups.push_back(g);
    group_of[t] = static_cast<int>(groups.size()) - 1;
  };
  auto join = [&](TensorId t, int group) {
    group_of[t] = group;
    groups[group].last = std::max(groups[group].last, last_use[t]);
  };

  for (TensorId t : graph.inputs) new_group(t, 0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const int time = static_cast<int>(i) + 1;
    const bool single_output = node.outputs.size() == 1;
    for (TensorId out : node.outputs) {
      int target = -1;
      if (single_output && !node.inputs.empty()) {
        const TensorId in = node.inputs[0];
        const bool in_arena = !graph.tensor(in).is_constant();
        if (options.allow_alias && is_reshape_like(node.op) && in_arena) {
          target = group_of[in];
        } else if (options.allow_in_place && op_info(node.op).elementwise && !is_reshape_like(node.op)) {
          for (TensorId cand : node.inputs) {
            if (graph.tensor(cand).is_constant()) continue;
            const Group& g = groups[group_of[cand]];
            // Nobody reads these bytes after this node, and the sizes agree.
            if (g.last == time && bytes_of(cand) == bytes_of(out)) {
              target = group_of[cand];
              break;
            }
          }
        }
      }
      if (target >= 0) join(out, target);
      else new_group(out, time);
    }
  }

  // Greedy by size: biggest groups first, each at the lowest offset that does
  // not overlap a placed group alive at the same time.
  std::vector<int> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return groups[a].bytes > groups[b].bytes; });
  // Placed groups kept sorted by [begin, end): the scan visits the live ones
  // in that order without sorting them again for every group, which made
  // planning a graph of N simultaneously live tensors O(N^2 log N).
  struct Placed {
    int64_t begin, end;
    int first, last;
    bool operator<(const Placed& o) const { return begin != o.begin ? begin < o.begin : end < o.end; }
  };
  std::vector<Placed> placed;
  size_t arena = 0;
  for (int gi : order) {
    Group& g = groups[gi];
    int64_t offset = 0;
    for (const Placed& p : placed) {
      if (p.first > g.last || g.first > p.last) continue;  // never alive together
      if (offset + static_cast<int64_t>(g.bytes) <= p.begin) break;
      offset = std::max(offset, p.end);
    }
    g.offset = offset;
    arena = std::max(arena, static_cast<size_t>(offset) + g.bytes);
    if (g.bytes == 0) continue;  // occupies nothing
    const Placed p{offset, offset + static_cast<int64_t>(g.bytes), g.first, g.last};
    placed.insert(std::upper_bound(placed.begin(), placed.end(), p), p);
  }

  MemoryPlan plan;
  plan.offsets.assign(nt, -1);
  for (size_t t = 0; t < nt; ++t) {
    if (graph.tensors[t].is_constant() || group_of[t] < 0) continue;
    plan.offsets[t] = groups[group_of[t]].offset;
    plan.naive_bytes += align_up(bytes_of(static_cast<TensorId>(t)), options.alignment);
  }
  plan.arena_bytes = arena;
  return plan;
}

MemoryPlan plan_memory_dense(const Graph& graph, const PlannerOptions& options) {
  return plan_memory(
      graph,
      [&](TensorId t) {
        return static_cast<size_t>(element_count(graph.shape(t))) * dtype_size(graph.tensor(t).dtype);
      },
      options);
}

}  // namespace kiln
