// MaxPool/AveragePool over the 3-D window (one output per thread) and the
// global pools (one warp per plane, lanes combined with shuffles in a fixed
// order, double sums).
#include <cfloat>

#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {
__global__ void pool_kernel(PoolKind kind, const float* x, float* y, Window3d g, bool count_include_pad,
                            int64_t total) {
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = i % g.out[2];
    const int64_t oh = (i / g.out[2]) % g.out[1];
    const int64_t od = (i / (g.out[2] * g.out[1])) % g.out[0];
    const int64_t p = i / (g.out[0] * g.out[1] * g.out[2]);
    const float* in = x + p * in_plane;
    const int64_t o[3] = {od, oh, ow};
    int64_t padded = 1;
    for (int ax = 0; ax < 3; ++ax) {
      const int64_t start = o[ax] * g.stride[ax] - g.pad_begin[ax];
      int64_t c = 0;
      for (int64_t k = 0; k < g.kernel[ax]; ++k)
        if (start + k * g.dilation[ax] < g.in[ax] + g.pad_end[ax]) ++c;
      padded *= c;
    }
    float best = -INFINITY;
    double sum = 0.0;
    int64_t valid = 0;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
      if (id < 0 || id >= g.in[0]) continue;
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
        if (ih < 0 || ih >= g.in[1]) continue;
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
          if (iw < 0 || iw >= g.in[2]) continue;
          const float v = in[(id * g.in[1] + ih) * g.in[2] + iw];
          best = fmaxf(best, v);
          sum += v;
          ++valid;
        }
      }
    }
    float r;
    if (kind == PoolKind::Max) {
      r = best;
    } else {
      const int64_t count = count_include_pad ? padded : valid;
      r = count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
    }
    y[i] = r;
  }
}

__global__ void global_pool_kernel(PoolKind kind, const float* x, float* y, int64_t planes, int64_t plane) {
  const int64_t warp = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= planes) return;
  const float* p = x + warp * plane;
  double sum = 0.0;
  float best = -INFINITY;
  for (int64_t i = lane; i < plane; i += 32) {
    sum += p[i];
    best = fmaxf(best, p[i]);
  }
  for (int off = 16; off > 0; off /= 2) {
    sum += __shfl_down_sync(0xffffffffu, sum, off);
    best = fmaxf(best, __shfl_down_sync(0xffffffffu, best, off));
  }
  if (lane == 0) y[warp] = kind == PoolKind::Average ? static_cast<float>(sum / static_cast<double>(plane)) : best;
}
}  // namespace

void launch_pool(PoolKind kind, const float* x, float* y, int64_t planes, const Window3d& w, bool count_include_pad,
                 cudaStream_t s) {
  const int64_t total = planes * w.out[0] * w.out[1] * w.out[2];
  if (total > 0) pool_kernel<<<grid_for(total), kThreads, 0, s>>>(kind, x, y, w, count_include_pad, total);
}

void launch_global_pool(PoolKind kind, const float* x, float* y, int64_t planes, int64_t plane, cudaStream_t s) {
  if (planes > 0) global_pool_kernel<<<blocks_for(planes * 32, kThreads), kThreads, 0, s>>>(kind, x, y, planes, plane);
}

}  // namespace kiln::cuda
