#include "kernels/reference/indexing.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

// For every output element, sums the input over the reduced axes (in double).
void reduce_mean(const KernelArgs& a) {
  const auto& attrs = attrs_as<fb::ReduceAttrsT>(*a.node);
  const Dims xs(*a.inputs[0].shape);
  std::array<bool, kMaxRank> reduced{};
  for (size_t d = 0; d < xs.size(); ++d) reduced[d] = attrs.axes.empty();
  for (int32_t axis : attrs.axes) reduced[static_cast<size_t>(axis)] = true;

  // Split the input's axes into kept (outer loop) and reduced (inner loop).
  const Dims in_strides = row_major_strides(xs);
  Dims kept_shape(xs.size(), 1), kept_strides(xs.size(), 0), red_shape(xs.size(), 1), red_strides(xs.size(), 0);
  for (size_t d = 0; d < xs.size(); ++d) {
    if (reduced[d]) {
      red_shape[d] = xs[d];
      red_strides[d] = in_strides[d];
    } else {
      kept_shape[d] = xs[d];
      kept_strides[d] = in_strides[d];
    }
  }
  const double count = static_cast<double>(red_shape.product());
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  int64_t out = 0;
  for_each_index(kept_shape, std::array<Dims, 1>{kept_strides}, [&](int64_t base) {
    double sum = 0.0;
    for_each_index(red_shape, std::array<Dims, 1>{red_strides}, [&](int64_t off) { sum += x[base + off]; });
    y[out++] = static_cast<float>(sum / count);
  });
}

}  // namespace kiln::reference
