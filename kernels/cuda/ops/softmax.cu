// Softmax: one row (of outer x inner, as softmax_extents splits the input)
// per thread, max-subtracted, the sum in double.
#include <cfloat>

#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void softmax_kernel(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t rows = outer * inner;
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows; r += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = r / inner, i = r % inner;
    const float* in = x + o * n * inner + i;
    float* out = y + o * n * inner + i;
    float mx = -INFINITY;
    for (int64_t k = 0; k < n; ++k) mx = fmaxf(mx, in[k * inner]);
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) sum += exp(static_cast<double>(in[k * inner]) - mx);
    for (int64_t k = 0; k < n; ++k)
      out[k * inner] = static_cast<float>(exp(static_cast<double>(in[k * inner]) - mx) / sum);
  }
}
}  // namespace

void launch_softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, cudaStream_t s) {
  if (outer * inner > 0) softmax_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, y, outer, n, inner);
}

}  // namespace kiln::cuda
