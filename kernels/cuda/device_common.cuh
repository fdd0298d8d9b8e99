#pragma once
// Device helpers shared by the backend's .cu files.
#include <cuda_runtime.h>

#include "kernels/cuda/launch.hpp"

namespace kiln::cuda {

// The activations of engine/core/activation.hpp.
__device__ __forceinline__ float apply_act(const Act& a, float x) {
  switch (a.kind) {
    case ActKind::Relu: return fmaxf(x, 0.0f);
    case ActKind::Clip: return fmaxf(fminf(x, a.beta), a.alpha);
    case ActKind::LeakyRelu: return x >= 0.0f ? x : a.alpha * x;
    case ActKind::Sigmoid: return 1.0f / (1.0f + expf(-x));
    case ActKind::HardSigmoid: return fminf(fmaxf(a.alpha * x + a.beta, 0.0f), 1.0f);
    case ActKind::HardSwish: return x * fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
    case ActKind::Tanh: return tanhf(x);
    case ActKind::None: return x;
  }
  return x;
}

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 2147483647 ? 2147483647 : b));
}

// Grid-stride kernels need no more blocks than fill the GPU a few times over.
inline unsigned grid_for(int64_t n) {
  const unsigned b = blocks_for(n, kThreads);
  return b > 65535u * 8 ? 65535u * 8 : b;
}

// The element offset of flat index i of `v`'s index space.
__device__ __forceinline__ int64_t view_offset(const StridedView& v, int64_t i) {
  int64_t off = v.offset;
  for (int d = v.rank - 1; d >= 0; --d) {
    off += (i % v.shape[d]) * v.strides[d];
    i /= v.shape[d];
  }
  return off;
}

}  // namespace kiln::cuda
