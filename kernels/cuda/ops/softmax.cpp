// Softmax (ops/softmax.cu), split as softmax_extents splits it.
#include "engine/core/shape_inference.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_softmax(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const auto [outer, n, inner] = softmax_extents(l.shape(x), attrs_as<fb::SoftmaxAttrsT>(node));
  l.add_node_step(i, [=, &l](cudaStream_t s) { launch_softmax(l.ptr(x), l.ptr(y), outer, n, inner, s); });
}

}  // namespace kiln::cuda
