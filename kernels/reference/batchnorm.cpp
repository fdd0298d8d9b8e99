#include <algorithm>
#include <cmath>

#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

void batch_normalization(const KernelArgs& a) {
  const float eps = attrs_as<fb::BatchNormAttrsT>(*a.node).epsilon;
  const Shape& xs = *a.inputs[0].shape;
  const float* x = a.inputs[0].data;
  const float* scale = a.inputs[1].data;
  const float* bias = a.inputs[2].data;
  const float* mean = a.inputs[3].data;
  const float* var = a.inputs[4].data;
  float* y = a.outputs[0].data;
  const int64_t batch = xs[0], channels = xs[1];
  const int64_t inner = element_count(xs) / std::max<int64_t>(batch * channels, 1);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const float s = scale[c] / std::sqrt(var[c] + eps);
      const float* in = x + (n * channels + c) * inner;
      float* out = y + (n * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) out[i] = (in[i] - mean[c]) * s + bias[c];
    }
}

}  // namespace kiln::reference
