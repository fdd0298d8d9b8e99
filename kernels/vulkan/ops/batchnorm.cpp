// BatchNormalization left standing (one after a Conv is folded into it when
// the model is converted): batchnorm.comp, one element per thread.
#include <algorithm>

#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_batchnorm(Lowering& l, int i) {
  const Node& node = l.node(i);
  const Shape& xs = l.shape(node.inputs[0]);
  const int64_t count = element_count(xs), C = xs[1];
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_BN_CHANNELS, C).i(SPEC_BN_INNER, count / std::max<int64_t>(xs[0] * C, 1));
  s.f(SPEC_BN_EPSILON, attrs_as<fb::BatchNormAttrsT>(node).epsilon);
  if (count > 0) {
    std::vector<TensorId> bind = {node.outputs[0]};
    bind.insert(bind.end(), node.inputs.begin(), node.inputs.end());
    l.add_step(i, Shader::Batchnorm, std::move(s), std::move(bind), groups_1d(count));
  }
  l.set_detail(i, "batchnorm");
}

}  // namespace kiln::vk
