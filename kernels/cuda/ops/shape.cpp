// Reshape-like ops move no data: a device copy only where the memory planner
// could not give the output its input's bytes.
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_shape(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const size_t n = static_cast<size_t>(element_count(l.shape(x))) * sizeof(float);
  l.add_node_step(i, [=, &l](cudaStream_t s) {
    if (l.ptr(x) != l.ptr(y) && n > 0)
      check(cudaMemcpyAsync(l.ptr(y), l.ptr(x), n, cudaMemcpyDeviceToDevice, s), "copy");
  });
}

}  // namespace kiln::cuda
