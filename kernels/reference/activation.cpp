#include "engine/core/activation.hpp"

#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

namespace {
// A standalone activation is its fused epilogue form applied to every
// element, evaluated in T (double: sigmoid and tanh rounded once).
template <class T>
void activation_in(const KernelArgs& a) {
  const fb::FusedActivation act = fused_form_of(*a.node);
  const int64_t n = element_count(*a.inputs[0].shape);
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(apply_activation(act, T(x[i])));
}
}  // namespace

void activation(const KernelArgs& a) {
  if (is_quantized(a)) return activation_quantized(a);
  if (a.in_double()) return activation_in<double>(a);
  activation_in<float>(a);
}

// Quantized Relu and Clip: requantized to the output's parameters, then
// clamped to the quantized bounds (quantize is monotonic, so this equals
// quantizing the clipped real value).
void activation_quantized(const KernelArgs& a) {
  Requantization r = requantization(*a.inputs[0].tensor, *a.outputs[0].tensor);
  r.clamp = output_clamp(*a.outputs[0].tensor, fused_form_of(*a.node));
  requantize_elements(qin(a.inputs[0]), qout(a.outputs[0]), element_count(*a.inputs[0].shape), r);
}

}  // namespace kiln::reference
