#pragma once
// Device helpers shared by the backend's .cu files.
#include <cuda_runtime.h>

#include "kernels/cuda/launch.hpp"

namespace kiln::cuda {

// The activations of engine/core/activation.hpp, kind = fb::ActivationKind.
__device__ __forceinline__ float apply_act(const Act& a, float x) {
  switch (a.kind) {
    case 1: return fmaxf(x, 0.0f);
    case 2: return fmaxf(fminf(x, a.beta), a.alpha);
    case 3: return x >= 0.0f ? x : a.alpha * x;
    case 4: return 1.0f / (1.0f + expf(-x));
    case 5: return fminf(fmaxf(a.alpha * x + a.beta, 0.0f), 1.0f);
    case 6: return x * fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
    case 7: return tanhf(x);
    default: return x;
  }
}

inline unsigned blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 2147483647 ? 2147483647 : b));
}

}  // namespace kiln::cuda
