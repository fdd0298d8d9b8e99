// Standalone activations (those not fused into a Conv, Gemm or binary op)
// on the SIMD kernel, in whichever layout their input has.
#include "engine/core/activation.hpp"

#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

void lower_activation(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) return l.lower_with_reference(i);
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], out = node.outputs[0];
  const Activation act = to_activation(fused_form_of(node));
  l.set_layout(out, l.layout(x));  // elementwise: any layout will do
  l.set_detail(i, "simd");
  const size_t n = static_cast<size_t>(element_count(l.shape(x)));
  l.add_step(i, node.op, {x}, {out}, [&l, x, out, n, act](RunContext& f) { l.simd().activation(f.ptr(out), f.ptr(x), n, act); });
}

}  // namespace kiln::cpu
