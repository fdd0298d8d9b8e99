// Softmax on the logical (NCHW) form, outer x len x inner as the reference
// reads it, with the SIMD exponential.
#include "engine/core/shape_inference.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

void lower_softmax(Lowering& l, int i) {
  const Node& node = l.node(i);
  const auto& attrs = attrs_as<fb::SoftmaxAttrsT>(node);
  const SoftmaxExtents e = softmax_extents(l.shape(node.inputs[0]), attrs);
  const TensorId x = l.in_layout(node.inputs[0], Layout::NCHW, i), out = node.outputs[0];
  l.set_layout(out, Layout::NCHW);
  l.set_detail(i, "simd");
  l.add_step(i, node.op, {x}, {out}, [&l, x, out, e](RunContext& f) {
    l.simd().softmax(f.ptr(out), f.ptr(x), static_cast<size_t>(e.outer), static_cast<size_t>(e.len),
                     static_cast<size_t>(e.inner));
  });
}

}  // namespace kiln::cpu
