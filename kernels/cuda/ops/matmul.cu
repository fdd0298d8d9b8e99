// Gemm's epilogue after cuBLAS: beta * C (broadcast through strides) and the
// fused activation.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void gemm_epilogue_kernel(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0,
                                     int64_t cs1, Act act) {
  const int64_t total = M * N;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    float v = y[i];
    if (c) v += beta * c[(i / N) * cs0 + (i % N) * cs1];
    y[i] = apply_act(act, v);
  }
}
}  // namespace

void launch_gemm_epilogue(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0, int64_t cs1, Act act,
                          cudaStream_t s) {
  if (M * N > 0) gemm_epilogue_kernel<<<grid_for(M * N), kThreads, 0, s>>>(y, M, N, beta, c, cs0, cs1, act);
}

}  // namespace kiln::cuda
