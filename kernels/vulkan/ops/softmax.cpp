// Softmax: softmax.comp, one row (outer x inner of them, as softmax_extents
// splits the input) per thread.
#include "engine/core/shape_inference.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_softmax(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const auto [outer, n, inner] = softmax_extents(l.shape(node.inputs[0]), attrs_as<fb::SoftmaxAttrsT>(node));
  Spec s;
  s.i(SPEC_COUNT, outer * inner).i(SPEC_SOFTMAX_LEN, n).i(SPEC_SOFTMAX_INNER, inner);
  if (element_count(l.shape(node.outputs[0])) > 0)
    l.add_step(i, Shader::Softmax, std::move(s), {node.outputs[0], node.inputs[0]}, groups_1d(outer * inner));
  l.set_detail(i, "softmax (one row per thread)");
}

}  // namespace kiln::vk
