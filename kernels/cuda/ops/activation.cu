// Standalone activations: one grid-stride kernel over the elements.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void activation_kernel(const float* x, float* y, int64_t n, Act act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = apply_act(act, x[i]);
}
}  // namespace

void launch_activation(const float* x, float* y, int64_t n, Act act, cudaStream_t s) {
  if (n > 0) activation_kernel<<<grid_for(n), kThreads, 0, s>>>(x, y, n, act);
}

}  // namespace kiln::cuda
