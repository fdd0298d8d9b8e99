#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/shape_inference.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

// Max-subtracted, with the sum in double.
void softmax(const KernelArgs& a) {
  const auto& attrs = attrs_as<fb::SoftmaxAttrsT>(*a.node);
  const Shape& xs = *a.inputs[0].shape;
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  const auto [outer, n, inner] = softmax_extents(xs, attrs);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const float* in = x + o * n * inner + i;
      float* out = y + o * n * inner + i;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, in[k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(static_cast<double>(in[k * inner]) - mx);
      for (int64_t k = 0; k < n; ++k)
        out[k * inner] = static_cast<float>(std::exp(static_cast<double>(in[k * inner]) - mx) / sum);
    }
}

}  // namespace kiln::reference
