// Reshape-like ops move no data: the memory planner usually gives the
// output its input's bytes, and the copy is skipped when it did.
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_shape(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const Shape flat = {element_count(l.shape(node.outputs[0]))};
  const StridedView v = contiguous_view(flat);
  l.add_copy(i, v, node.inputs[0], v, node.outputs[0], true);
  l.set_detail(i, "alias (no copy) or copy");
}

}  // namespace kiln::vk
