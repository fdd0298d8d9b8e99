// Standalone activations: activation.comp, one element per thread.
#include "engine/core/activation.hpp"

#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

static_assert(static_cast<int>(fb::ActivationKind::Relu) == ACT_RELU &&
                  static_cast<int>(fb::ActivationKind::Clip) == ACT_CLIP &&
                  static_cast<int>(fb::ActivationKind::LeakyRelu) == ACT_LEAKY_RELU &&
                  static_cast<int>(fb::ActivationKind::Sigmoid) == ACT_SIGMOID &&
                  static_cast<int>(fb::ActivationKind::HardSigmoid) == ACT_HARD_SIGMOID &&
                  static_cast<int>(fb::ActivationKind::HardSwish) == ACT_HARD_SWISH &&
                  static_cast<int>(fb::ActivationKind::Tanh) == ACT_TANH,
              "common.glsl numbers the activations as the schema's ActivationKind does");

void lower_activation(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const int64_t count = element_count(l.shape(node.outputs[0]));
  const fb::FusedActivation a = fused_form_of(node);
  Spec s;
  s.i(SPEC_COUNT, count)
      .i(SPEC_ACT_KIND, static_cast<int>(a.kind()))
      .f(SPEC_ACT_ALPHA, a.alpha())
      .f(SPEC_ACT_BETA, a.beta());
  if (count > 0) l.add_step(i, Shader::Activation, std::move(s), {node.outputs[0], node.inputs[0]}, groups_1d(count));
  l.set_detail(i, "unary");
}

}  // namespace kiln::vk
