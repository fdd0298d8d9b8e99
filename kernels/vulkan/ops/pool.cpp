// MaxPool/AveragePool: pool.comp, one output per thread over the 3-D window
// (engine/core/spatial.hpp); the global pools: global_pool.comp, a workgroup per plane.
#include <algorithm>

#include "engine/core/spatial.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_pool(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = l.shape(x);
  const int64_t count = element_count(l.shape(y));
  if (node.op == OpType::GlobalAveragePool || node.op == OpType::GlobalMaxPool) {
    const int64_t planes = xs[0] * xs[1];
    Spec s;
    s.i(SPEC_COUNT, planes).i(SPEC_GLOBAL_POOL_PLANE, element_count(xs) / std::max<int64_t>(planes, 1));
    s.i(SPEC_GLOBAL_POOL_IS_MAX, node.op == OpType::GlobalMaxPool);
    if (count > 0) l.add_step(i, Shader::GlobalPool, std::move(s), {y, x}, groups_1d(planes, 1));
    l.set_detail(i, "global pool (a workgroup per plane)");
    return;
  }
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_POOL_IS_MAX, node.op == OpType::MaxPool).i(SPEC_POOL_INCLUDE_PAD, a.count_include_pad);
  s.axes(SPEC_POOL_IN, w.in).axes(SPEC_POOL_OUT, w.out).axes(SPEC_POOL_KERNEL, w.kernel);
  s.axes(SPEC_POOL_STRIDE, w.stride).axes(SPEC_POOL_DILATION, w.dilation);
  s.axes(SPEC_POOL_PAD_BEGIN, w.pad_begin).axes(SPEC_POOL_PAD_END, w.pad_end);
  if (count > 0) l.add_step(i, Shader::Pool, std::move(s), {y, x}, groups_1d(count));
  l.set_detail(i, "pool (one output per thread)");
}

}  // namespace kiln::vk
