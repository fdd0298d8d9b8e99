// ReduceMean: reduce_mean.comp, one output per thread, walking the reduced
// view (engine/core/strided_view.hpp) from each kept offset.
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_reduce(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const Shape& xs = l.shape(node.inputs[0]);
  const int64_t count = element_count(l.shape(node.outputs[0]));
  const ReduceViews v = reduce_views(xs, attrs_as<fb::ReduceAttrsT>(node).axes);
  const size_t r = xs.size();
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_REDUCE_COUNT, v.reduced.count());
  s.axes(SPEC_REDUCE_KEPT_DIMS, right_aligned({v.kept.shape, r}, 1));
  s.axes(SPEC_REDUCE_REDUCED_DIMS, right_aligned({v.reduced.shape, r}, 1));
  s.axes(SPEC_REDUCE_STRIDES, right_aligned({contiguous_view(xs).strides, r}, 0));
  if (count > 0) l.add_step(i, Shader::ReduceMean, std::move(s), {node.outputs[0], node.inputs[0]}, groups_1d(count));
  l.set_detail(i, "reduce (one output per thread)");
}

}  // namespace kiln::vk
