// ReduceMean: one output per thread, the mean (in double) over the reduced
// view from the output's kept offset.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void reduce_mean_kernel(const float* x, float* y, ReduceViews v, int64_t outs, int64_t reds) {
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < outs; o += int64_t{gridDim.x} * blockDim.x) {
    const int64_t base = view_offset(v.kept, o);
    double sum = 0.0;
    for (int64_t r = 0; r < reds; ++r) sum += x[base + view_offset(v.reduced, r)];
    y[o] = static_cast<float>(sum / static_cast<double>(reds));
  }
}
}  // namespace

void launch_reduce_mean(const float* x, float* y, const ReduceViews& v, cudaStream_t s) {
  const int64_t outs = v.kept.count(), reds = v.reduced.count();
  if (outs > 0) reduce_mean_kernel<<<grid_for(outs), kThreads, 0, s>>>(x, y, v, outs, reds);
}

}  // namespace kiln::cuda
