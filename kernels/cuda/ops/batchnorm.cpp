// BatchNormalization left standing: with constant statistics folded into a
// per-channel scale and shift at session creation, else computed on the device.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_batchnorm(Lowering& l, int i) {
  const Node& node = l.node(i);
  const std::vector<TensorId> ins = node.inputs;
  const TensorId x = ins[0], y = node.outputs[0];
  const float eps = attrs_as<fb::BatchNormAttrsT>(node).epsilon;
  const Shape& xs = l.shape(x);
  const int64_t N = xs[0], C = xs.size() > 1 ? xs[1] : 1;
  const int64_t inner = element_count(xs) / std::max<int64_t>(N * C, 1);
  bool all_const = true;
  for (size_t k = 1; k < 5; ++k) all_const = all_const && l.is_const(ins[k]);
  if (!all_const) {
    l.add_node_step(i, [=, &l](cudaStream_t s) {
      launch_batchnorm(l.ptr(x), l.ptr(y), l.ptr(ins[1]), l.ptr(ins[2]), l.ptr(ins[3]), l.ptr(ins[4]), eps, N, C, inner,
                       s);
    });
    return;
  }
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const float sc = l.host(ins[1])[c] / std::sqrt(l.host(ins[4])[c] + eps);
    scale[static_cast<size_t>(c)] = sc;
    shift[static_cast<size_t>(c)] = l.host(ins[2])[c] - l.host(ins[3])[c] * sc;
  }
  const auto hs = l.weights().add(std::move(scale)), hb = l.weights().add(std::move(shift));
  const WeightStore* w = &l.weights();
  l.add_node_step(i, [=, &l](cudaStream_t s) {
    launch_channel_affine(l.ptr(x), l.ptr(y), w->ptr(hs), w->ptr(hb), N, C, inner, Act{}, s);
  });
}

}  // namespace kiln::cuda
