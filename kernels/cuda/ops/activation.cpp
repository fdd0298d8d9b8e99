// Standalone activations (ops/activation.cu).
#include "engine/core/activation.hpp"

#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

static_assert(static_cast<int>(ActKind::Tanh) == static_cast<int>(fb::ActivationKind::Tanh) &&
                  static_cast<int>(ActKind::Clip) == static_cast<int>(fb::ActivationKind::Clip) &&
                  static_cast<int>(fb::ActivationKind::MAX) == static_cast<int>(ActKind::Tanh),
              "ActKind numbers the activations as the schema's ActivationKind does");

void lower_activation(Lowering& l, int i) {
  const Node& node = l.node(i);
  const Act act = to_act(fused_form_of(node));
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const int64_t n = element_count(l.shape(x));
  l.add_node_step(i, [=, &l](cudaStream_t s) { launch_activation(l.ptr(x), l.ptr(y), n, act, s); });
}

}  // namespace kiln::cuda
