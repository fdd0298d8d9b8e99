#include "engine/core/strided_view.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

// For every output element, sums the input over the reduced axes (in double).
void reduce_mean(const KernelArgs& a) {
  const ReduceViews v = reduce_views(*a.inputs[0].shape, attrs_as<fb::ReduceAttrsT>(*a.node).axes);
  const double count = static_cast<double>(v.reduced.count());
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  int64_t out = 0;
  for_each_offset<1>({&v.kept}, [&](int64_t base) {
    double sum = 0.0;
    for_each_offset<1>({&v.reduced}, [&](int64_t off) { sum += x[base + off]; });
    y[out++] = static_cast<float>(sum / count);
  });
}

}  // namespace kiln::reference
