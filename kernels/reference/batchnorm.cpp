#include <algorithm>
#include <cmath>

#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

namespace {
// y = (x − mean) · scale / √(var + ε) + bias, every step in Acc.
template <class Acc>
void batch_normalization_in(const KernelArgs& a) {
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
      const Acc s = Acc(scale[c]) / std::sqrt(Acc(var[c]) + Acc(eps));
      const Acc mu = mean[c], beta = bias[c];
      const float* in = x + (n * channels + c) * inner;
      float* out = y + (n * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) out[i] = static_cast<float>((Acc(in[i]) - mu) * s + beta);
    }
}
}  // namespace

void batch_normalization(const KernelArgs& a) {
  if (a.in_double()) return batch_normalization_in<double>(a);
  batch_normalization_in<float>(a);
}

}  // namespace kiln::reference
