// MaxPool/AveragePool over the 3-D window and the global pools (ops/pool.cu).
#include <algorithm>

#include "engine/core/spatial.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_pool(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = l.shape(x);
  const int64_t planes = xs[0] * xs[1];
  if (node.op == OpType::GlobalAveragePool || node.op == OpType::GlobalMaxPool) {
    const int64_t plane = element_count(xs) / std::max<int64_t>(planes, 1);
    const PoolKind kind = node.op == OpType::GlobalAveragePool ? PoolKind::Average : PoolKind::Max;
    l.add_node_step(i, [=, &l](cudaStream_t s) { launch_global_pool(kind, l.ptr(x), l.ptr(y), planes, plane, s); });
    return;
  }
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  const bool include_pad = a.count_include_pad;
  const PoolKind kind = node.op == OpType::MaxPool ? PoolKind::Max : PoolKind::Average;
  l.add_node_step(i, [=, &l](cudaStream_t s) { launch_pool(kind, l.ptr(x), l.ptr(y), planes, w, include_pad, s); });
}

}  // namespace kiln::cuda
