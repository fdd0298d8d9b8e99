// Kernels for every non-convolution op of the reference backend. Each thread
// computes whole output elements, so no kernel uses atomics and the results do
// not depend on scheduling (deterministic mode needs nothing special here).
#include <cfloat>

#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void activation_kernel(const float* x, float* y, int64_t n, Act act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = apply_act(act, x[i]);
}

__global__ void binary_kernel(int op, const float* a, Dims8 sa, const float* b, Dims8 sb, float* y, Dims8 shape,
                              int64_t total, Act act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = shape.n - 1; d >= 0; --d) {
      const int64_t idx = rest % shape.v[d];
      rest /= shape.v[d];
      ia += idx * sa.v[d];
      ib += idx * sb.v[d];
    }
    const float p = a[ia], q = b[ib];
    float r;
    switch (op) {
      case 0: r = p + q; break;
      case 1: r = p - q; break;
      case 2: r = p * q; break;
      default: r = p / q; break;
    }
    y[i] = apply_act(act, r);
  }
}

__global__ void channel_affine_kernel(const float* x, float* y, const float* scale, const float* shift, int64_t C,
                                      int64_t inner, int64_t total, Act act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / inner) % C;
    float v = x[i];
    if (scale) v *= scale[c];
    if (shift) v += shift[c];
    y[i] = apply_act(act, v);
  }
}

__global__ void batchnorm_kernel(const float* x, float* y, const float* scale, const float* bias, const float* mean,
                                 const float* var, float eps, int64_t C, int64_t inner, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / inner) % C;
    const float sc = scale[c] / sqrtf(var[c] + eps);
    y[i] = (x[i] - mean[c]) * sc + bias[c];
  }
}

__global__ void gemm_epilogue_kernel(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0,
                                     int64_t cs1, Act act) {
  const int64_t total = M * N;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    float v = y[i];
    if (c) v += beta * c[(i / N) * cs0 + (i % N) * cs1];
    y[i] = apply_act(act, v);
  }
}

__global__ void strided_copy_kernel(const float* src, Dims8 ss, float* dst, Dims8 ds, Dims8 shape, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, is = 0, id = 0;
    for (int d = shape.n - 1; d >= 0; --d) {
      const int64_t idx = rest % shape.v[d];
      rest /= shape.v[d];
      is += idx * ss.v[d];
      id += idx * ds.v[d];
    }
    dst[id] = src[is];
  }
}

__global__ void pad_kernel(const float* x, Dims8 xs, float* y, Dims8 ys, Dims8 pb, float value, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, src = 0, stride = 1;
    bool inside = true;
    for (int d = ys.n - 1; d >= 0; --d) {
      const int64_t idx = rest % ys.v[d];
      rest /= ys.v[d];
      const int64_t s = idx - pb.v[d];
      if (s < 0 || s >= xs.v[d]) inside = false;
      src += s * stride;
      stride *= xs.v[d];
    }
    y[i] = inside ? x[src] : value;
  }
}

__global__ void pool_kernel(int kind, const float* x, float* y, PoolGeometry g, int64_t total) {
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
    if (kind == 0) {
      r = best;
    } else {
      const int64_t count = g.count_include_pad ? padded : valid;
      r = count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
    }
    y[i] = r;
  }
}

// One warp per plane; lanes stride over the plane and combine with shuffles
// in a fixed order.
__global__ void global_pool_kernel(int kind, const float* x, float* y, int64_t planes, int64_t plane) {
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
  if (lane == 0) y[warp] = kind == 0 ? static_cast<float>(sum / static_cast<double>(plane)) : best;
}

__global__ void reduce_mean_kernel(const float* x, float* y, Dims8 ks, Dims8 kst, Dims8 rs, Dims8 rst, int64_t outs,
                                   int64_t reds) {
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < outs; o += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = o, base = 0;
    for (int d = ks.n - 1; d >= 0; --d) {
      base += (rest % ks.v[d]) * kst.v[d];
      rest /= ks.v[d];
    }
    double sum = 0.0;
    for (int64_t r = 0; r < reds; ++r) {
      int64_t rr = r, off = 0;
      for (int d = rs.n - 1; d >= 0; --d) {
        off += (rr % rs.v[d]) * rst.v[d];
        rr /= rs.v[d];
      }
      sum += x[base + off];
    }
    y[o] = static_cast<float>(sum / static_cast<double>(reds));
  }
}

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
    for (int64_t k = 0; k < n; ++k) out[k * inner] = static_cast<float>(exp(static_cast<double>(in[k * inner]) - mx) / sum);
  }
}

// Grid-stride kernels need no more blocks than fill the GPU a few times over.
unsigned grid_for(int64_t n) {
  const unsigned b = blocks_for(n, kThreads);
  return b > 65535u * 8 ? 65535u * 8 : b;
}

}  // namespace

void launch_activation(const float* x, float* y, int64_t n, Act act, cudaStream_t s) {
  if (n > 0) activation_kernel<<<grid_for(n), kThreads, 0, s>>>(x, y, n, act);
}

void launch_binary(int op, const float* a, Dims8 sa, const float* b, Dims8 sb, float* y, Dims8 shape, Act act,
                   cudaStream_t s) {
  int64_t total = 1;
  for (int d = 0; d < shape.n; ++d) total *= shape.v[d];
  if (total > 0) binary_kernel<<<grid_for(total), kThreads, 0, s>>>(op, a, sa, b, sb, y, shape, total, act);
}

void launch_channel_affine(const float* x, float* y, const float* scale, const float* shift, int64_t N, int64_t C,
                           int64_t inner, Act act, cudaStream_t s) {
  const int64_t total = N * C * inner;
  if (total > 0) channel_affine_kernel<<<grid_for(total), kThreads, 0, s>>>(x, y, scale, shift, C, inner, total, act);
}

void launch_batchnorm(const float* x, float* y, const float* scale, const float* bias, const float* mean,
                      const float* var, float eps, int64_t N, int64_t C, int64_t inner, cudaStream_t s) {
  const int64_t total = N * C * inner;
  if (total > 0) batchnorm_kernel<<<grid_for(total), kThreads, 0, s>>>(x, y, scale, bias, mean, var, eps, C, inner, total);
}

void launch_gemm_epilogue(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0, int64_t cs1, Act act,
                          cudaStream_t s) {
  if (M * N > 0) gemm_epilogue_kernel<<<grid_for(M * N), kThreads, 0, s>>>(y, M, N, beta, c, cs0, cs1, act);
}

void launch_strided_copy(const float* src, Dims8 ss, float* dst, Dims8 ds, Dims8 shape, cudaStream_t s) {
  int64_t total = 1;
  for (int d = 0; d < shape.n; ++d) total *= shape.v[d];
  if (total > 0) strided_copy_kernel<<<grid_for(total), kThreads, 0, s>>>(src, ss, dst, ds, shape, total);
}

void launch_pad(const float* x, Dims8 xs, float* y, Dims8 ys, Dims8 pb, float value, cudaStream_t s) {
  int64_t total = 1;
  for (int d = 0; d < ys.n; ++d) total *= ys.v[d];
  if (total > 0) pad_kernel<<<grid_for(total), kThreads, 0, s>>>(x, xs, y, ys, pb, value, total);
}

void launch_pool(int kind, const float* x, float* y, const PoolGeometry& g, cudaStream_t s) {
  const int64_t total = g.planes * g.out[0] * g.out[1] * g.out[2];
  if (total > 0) pool_kernel<<<grid_for(total), kThreads, 0, s>>>(kind, x, y, g, total);
}

void launch_global_pool(int kind, const float* x, float* y, int64_t planes, int64_t plane, cudaStream_t s) {
  if (planes > 0) global_pool_kernel<<<blocks_for(planes * 32, kThreads), kThreads, 0, s>>>(kind, x, y, planes, plane);
}

void launch_reduce_mean(const float* x, float* y, Dims8 ks, Dims8 kst, Dims8 rs, Dims8 rst, cudaStream_t s) {
  int64_t outs = 1, reds = 1;
  for (int d = 0; d < ks.n; ++d) outs *= ks.v[d];
  for (int d = 0; d < rs.n; ++d) reds *= rs.v[d];
  if (outs > 0) reduce_mean_kernel<<<grid_for(outs), kThreads, 0, s>>>(x, y, ks, kst, rs, rst, outs, reds);
}

void launch_softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, cudaStream_t s) {
  if (outer * inner > 0) softmax_kernel<<<grid_for(outer * inner), kThreads, 0, s>>>(x, y, outer, n, inner);
}

}  // namespace kiln::cuda
