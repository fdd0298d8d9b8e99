#include "engine/core/activation.hpp"

#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

// A standalone activation is its fused epilogue form applied to every element.
void activation(const KernelArgs& a) {
  const fb::FusedActivation act = fused_form_of(*a.node);
  const int64_t n = element_count(*a.inputs[0].shape);
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  for (int64_t i = 0; i < n; ++i) y[i] = apply_activation(act, x[i]);
}

}  // namespace kiln::reference
