// Add/Sub/Mul/Div with numpy broadcasting: each operand read through its
// broadcast view of the output's index space.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void binary_kernel(BinaryOp op, const float* a, StridedView va, const float* b, StridedView vb, float* y,
                              int64_t total, Act act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const float p = a[view_offset(va, i)], q = b[view_offset(vb, i)];
    float r;
    switch (op) {
      case BinaryOp::Add:
        r = p + q;
        break;
      case BinaryOp::Sub:
        r = p - q;
        break;
      case BinaryOp::Mul:
        r = p * q;
        break;
      default:
        r = p / q;
        break;
    }
    y[i] = apply_act(act, r);
  }
}
}  // namespace

void launch_binary(BinaryOp op, const float* a, const StridedView& va, const float* b, const StridedView& vb, float* y,
                   Act act, cudaStream_t s) {
  const int64_t total = va.count();
  if (total > 0) binary_kernel<<<grid_for(total), kThreads, 0, s>>>(op, a, va, b, vb, y, total, act);
}

}  // namespace kiln::cuda
