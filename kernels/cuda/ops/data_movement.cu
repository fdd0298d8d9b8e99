// Transpose, Slice, Concat and Split pieces as copies between strided views;
// Pad reading its input through a bounded view.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void strided_copy_kernel(const float* x, StridedView src, float* y, StridedView dst, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x)
    y[view_offset(dst, i)] = x[view_offset(src, i)];
}

__global__ void pad_kernel(const float* x, PadView v, float* y, float value, int64_t total) {
  const StridedView& src = v.source;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = src.offset;
    bool inside = true;
    for (int d = src.rank - 1; d >= 0; --d) {
      const int64_t idx = rest % src.shape[d];
      rest /= src.shape[d];
      if (idx < v.begin[d] || idx - v.begin[d] >= v.in_shape[d]) inside = false;
      off += idx * src.strides[d];
    }
    y[i] = inside ? x[off] : value;
  }
}
}  // namespace

void launch_strided_copy(const float* x, const StridedView& src, float* y, const StridedView& dst, cudaStream_t s) {
  const int64_t total = src.count();
  if (total > 0) strided_copy_kernel<<<grid_for(total), kThreads, 0, s>>>(x, src, y, dst, total);
}

void launch_pad(const float* x, const PadView& v, float* y, float value, cudaStream_t s) {
  const int64_t total = v.source.count();
  if (total > 0) pad_kernel<<<grid_for(total), kThreads, 0, s>>>(x, v, y, value, total);
}

}  // namespace kiln::cuda
