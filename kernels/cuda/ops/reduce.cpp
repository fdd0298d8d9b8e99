// ReduceMean (ops/reduce.cu) over the kept and reduced views of the input.
#include "engine/core/strided_view.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_reduce(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const ReduceViews v = reduce_views(l.shape(x), attrs_as<fb::ReduceAttrsT>(node).axes);
  l.add_node_step(i, [=, &l](cudaStream_t s) { launch_reduce_mean(l.ptr(x), l.ptr(y), v, s); });
}

}  // namespace kiln::cuda
