// The backend's own convolution kernels (NCHW, float32): direct (cuConv),
// depthwise, im2win and implicit GEMM. Every output element is summed by one
// thread in a fixed order: no atomics, the same bits on every run.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {

constexpr int kDirectThreads = 128;
constexpr int kChannelsPerThread = 4;

// cuConv: no transformation of the input. Consecutive threads take consecutive
// output pixels, so with stride 1 a warp reads consecutive input addresses for
// each tap; each thread keeps 4 output channels in registers to reuse every
// input value it loads.
__global__ void conv_direct_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ bias, float* __restrict__ y, ConvGeometry g, Act act) {
  const int P = g.OD * g.OH * g.OW;
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  const int Kg = g.K / g.group, Cg = g.C / g.group;
  const int quads = (Kg + kChannelsPerThread - 1) / kChannelsPerThread;
  const int grp = blockIdx.y / quads;
  const int k0 = (blockIdx.y % quads) * kChannelsPerThread;
  const int n = blockIdx.z;
  if (p >= P) return;
  const int ow = p % g.OW, oh = (p / g.OW) % g.OH, od = p / (g.OW * g.OH);
  const int taps = g.KD * g.KH * g.KW;
  float acc[kChannelsPerThread];
#pragma unroll
  for (int j = 0; j < kChannelsPerThread; ++j) acc[j] = 0.0f;
  const int in_plane = g.D * g.H * g.W;
  for (int ic = 0; ic < Cg; ++ic) {
    const float* in = x + (static_cast<int64_t>(n) * g.C + grp * Cg + ic) * in_plane;
    int t = 0;
    for (int kd = 0; kd < g.KD; ++kd) {
      const int id = od * g.sd - g.pf + kd * g.dd;
      for (int kh = 0; kh < g.KH; ++kh) {
        const int ih = oh * g.sh - g.pt + kh * g.dh;
        for (int kw = 0; kw < g.KW; ++kw, ++t) {
          const int iw = ow * g.sw - g.pl + kw * g.dw;
          const bool inside =
              id >= 0 && id < g.D && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          const float v = inside ? __ldg(in + (id * g.H + ih) * g.W + iw) : 0.0f;
#pragma unroll
          for (int j = 0; j < kChannelsPerThread; ++j) {
            const int k = k0 + j < Kg ? k0 + j : Kg - 1;
            acc[j] += v * __ldg(w + (static_cast<int64_t>(grp * Kg + k) * Cg + ic) * taps + t);
          }
        }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kChannelsPerThread; ++j) {
    const int k = k0 + j;
    if (k >= Kg) break;
    const int m = grp * Kg + k;
    y[(static_cast<int64_t>(n) * g.K + m) * P + p] = apply_act(act, acc[j] + (bias ? bias[m] : 0.0f));
  }
}

__global__ void conv_depthwise_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                      const float* __restrict__ bias, float* __restrict__ y, ConvGeometry g,
                                      int64_t total, Act act) {
  const int OH = g.OH, OW = g.OW, H = g.H, W = g.W, KH = g.KH, KW = g.KW;
  const int mult = g.K / g.group;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int ow = static_cast<int>(i % OW), oh = static_cast<int>((i / OW) % OH);
    const int64_t nk = i / (int64_t{OW} * OH);
    const int k = static_cast<int>(nk % g.K);
    const int64_t n = nk / g.K;
    const float* in = x + (n * g.C + k / mult) * int64_t{H} * W;
    const float* wk = w + int64_t{k} * KH * KW;
    float s = 0.0f;
    for (int kh = 0; kh < KH; ++kh) {
      const int ih = oh * g.sh - g.pt + kh * g.dh;
      if (ih < 0 || ih >= H) continue;
      for (int kw = 0; kw < KW; ++kw) {
        const int iw = ow * g.sw - g.pl + kw * g.dw;
        if (iw >= 0 && iw < W) s += __ldg(in + ih * W + iw) * __ldg(wk + kh * KW + kw);
      }
    }
    y[i] = apply_act(act, s + (bias ? bias[k] : 0.0f));
  }
}

int padded_width(const ConvGeometry& g) {
  // Columns the windows reach: (OW-1)*sw + (KW-1)*dw + 1, starting at -pl.
  return (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1;
}

// win[n][c][oh][kh][col] = x[n][c][oh*sh - pt + kh*dh][col - pl], zero outside.
__global__ void im2win_transform_kernel(const float* __restrict__ x, float* __restrict__ win, ConvGeometry g, int Wp,
                                        int64_t total) {
  const int KH = g.KH, OH = g.OH, H = g.H, W = g.W;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int col = static_cast<int>(i % Wp);
    const int kh = static_cast<int>((i / Wp) % KH);
    const int oh = static_cast<int>((i / (int64_t{Wp} * KH)) % OH);
    const int64_t nc = i / (int64_t{Wp} * KH * OH);
    const int ih = oh * g.sh - g.pt + kh * g.dh;
    const int iw = col - g.pl;
    win[i] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[nc * H * W + int64_t{ih} * W + iw] : 0.0f;
  }
}

// One thread per output pixel and 4 output channels; the window rows of an
// output row are contiguous, so a warp reads consecutive addresses (stride 1).
__global__ void im2win_conv_kernel(const float* __restrict__ win, const float* __restrict__ w,
                                   const float* __restrict__ bias, float* __restrict__ y, ConvGeometry g, int Wp,
                                   Act act) {
  const int OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW;
  const int P = OH * OW;
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  const int Kg = g.K / g.group, Cg = g.C / g.group;
  const int quads = (Kg + kChannelsPerThread - 1) / kChannelsPerThread;
  const int grp = blockIdx.y / quads;
  const int k0 = (blockIdx.y % quads) * kChannelsPerThread;
  const int n = blockIdx.z;
  if (p >= P) return;
  const int ow = p % OW, oh = p / OW;
  float acc[kChannelsPerThread];
#pragma unroll
  for (int j = 0; j < kChannelsPerThread; ++j) acc[j] = 0.0f;
  for (int ic = 0; ic < Cg; ++ic) {
    const float* rows = win + ((static_cast<int64_t>(n) * g.C + grp * Cg + ic) * OH + oh) * KH * int64_t{Wp};
    for (int kh = 0; kh < KH; ++kh) {
      const float* row = rows + kh * int64_t{Wp} + ow * g.sw;
      for (int kw = 0; kw < KW; ++kw) {
        const float v = __ldg(row + kw * g.dw);
#pragma unroll
        for (int j = 0; j < kChannelsPerThread; ++j) {
          const int k = k0 + j < Kg ? k0 + j : Kg - 1;
          acc[j] += v * __ldg(w + ((static_cast<int64_t>(grp * Kg + k) * Cg + ic) * KH + kh) * KW + kw);
        }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kChannelsPerThread; ++j) {
    const int k = k0 + j;
    if (k >= Kg) break;
    const int m = grp * Kg + k;
    y[(static_cast<int64_t>(n) * g.K + m) * P + p] = apply_act(act, acc[j] + (bias ? bias[m] : 0.0f));
  }
}

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;

// Implicit GEMM: Y[m][p] = sum_r Wt[r][m] * X(r, p) for one group, where
// r = (ic, kh, kw) and p = (n, oh, ow); X is gathered from the input while the
// tile is loaded into shared memory. 256 threads, 4x4 outputs each.
__global__ void __launch_bounds__(256) conv_implicit_gemm_kernel(const float* __restrict__ x,
                                                                 const float* __restrict__ wt,
                                                                 const float* __restrict__ bias, float* __restrict__ y,
                                                                 ConvGeometry g, Act act) {
  __shared__ float sA[kTileK][kTileM];
  __shared__ float sB[kTileK][kTileN];
  const int Kg = g.K / g.group, Cg = g.C / g.group;
  const int KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW, H = g.H, W = g.W;
  const int taps = KH * KW;
  const int R = Cg * taps;
  const int P = OH * OW;
  const int64_t cols = int64_t{g.N} * P;
  const int grp = blockIdx.z;
  const int m0 = blockIdx.y * kTileM;
  const int64_t p0 = int64_t{blockIdx.x} * kTileN;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const float* wg = wt + int64_t{grp} * R * Kg;
  float acc[4][4] = {};
  for (int r0 = 0; r0 < R; r0 += kTileK) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int e = tid + q * 256;
      const int kk = e / kTileM, mm = e % kTileM;
      const int r = r0 + kk, m = m0 + mm;
      sA[kk][mm] = (r < R && m < Kg) ? wg[int64_t{r} * Kg + m] : 0.0f;
    }
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int e = tid + q * 256;
      const int kk = e / kTileN, pp = e % kTileN;
      const int r = r0 + kk;
      const int64_t col = p0 + pp;
      float v = 0.0f;
      if (r < R && col < cols) {
        const int ic = r / taps, kh = (r / KW) % KH, kw = r % KW;
        const int n = static_cast<int>(col / P), pix = static_cast<int>(col % P);
        const int oh = pix / OW, ow = pix % OW;
        const int ih = oh * g.sh - g.pt + kh * g.dh;
        const int iw = ow * g.sw - g.pl + kw * g.dw;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
          v = __ldg(x + ((int64_t{n} * g.C + grp * Cg + ic) * H + ih) * W + iw);
      }
      sB[kk][pp] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = sA[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = sB[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= Kg) continue;
    const int k = grp * Kg + m;
    const float bv = bias ? bias[k] : 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t col = p0 + tx + 16 * j;
      if (col >= cols) continue;
      const int64_t n = col / P, pix = col % P;
      y[(n * g.K + k) * P + pix] = apply_act(act, acc[i][j] + bv);
    }
  }
}

}  // namespace

void launch_conv_direct(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g, Act act,
                        cudaStream_t s) {
  const int P = g.OD * g.OH * g.OW;
  const int Kg = g.K / g.group;
  const unsigned quads = static_cast<unsigned>((Kg + kChannelsPerThread - 1) / kChannelsPerThread);
  const dim3 grid(blocks_for(P, kDirectThreads), quads * static_cast<unsigned>(g.group), static_cast<unsigned>(g.N));
  conv_direct_kernel<<<grid, kDirectThreads, 0, s>>>(x, w, bias, y, g, act);
}

void launch_conv_depthwise(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g, Act act,
                           cudaStream_t s) {
  const int64_t total = int64_t{g.N} * g.K * g.OH * g.OW;
  unsigned blocks = blocks_for(total, 256);
  if (blocks > 65535u * 8) blocks = 65535u * 8;
  conv_depthwise_kernel<<<blocks, 256, 0, s>>>(x, w, bias, y, g, total, act);
}

size_t im2win_workspace_bytes(const ConvGeometry& g) {
  return static_cast<size_t>(g.N) * g.C * g.OH * g.KH * static_cast<size_t>(padded_width(g)) * sizeof(float);
}

void launch_conv_im2win(const float* x, const float* w, const float* bias, float* y, float* win,
                        const ConvGeometry& g, Act act, cudaStream_t s) {
  const int Wp = padded_width(g);
  const int64_t total = static_cast<int64_t>(im2win_workspace_bytes(g) / sizeof(float));
  unsigned blocks = blocks_for(total, 256);
  if (blocks > 65535u * 8) blocks = 65535u * 8;
  im2win_transform_kernel<<<blocks, 256, 0, s>>>(x, win, g, Wp, total);
  const int P = g.OH * g.OW;
  const int Kg = g.K / g.group;
  const unsigned quads = static_cast<unsigned>((Kg + kChannelsPerThread - 1) / kChannelsPerThread);
  const dim3 grid(blocks_for(P, kDirectThreads), quads * static_cast<unsigned>(g.group), static_cast<unsigned>(g.N));
  im2win_conv_kernel<<<grid, kDirectThreads, 0, s>>>(win, w, bias, y, g, Wp, act);
}

void launch_conv_implicit_gemm(const float* x, const float* wt, const float* bias, float* y, const ConvGeometry& g,
                               Act act, cudaStream_t s) {
  const int64_t cols = int64_t{g.N} * g.OH * g.OW;
  const int Kg = g.K / g.group;
  const dim3 grid(blocks_for(cols, kTileN), static_cast<unsigned>((Kg + kTileM - 1) / kTileM),
                  static_cast<unsigned>(g.group));
  conv_implicit_gemm_kernel<<<grid, 256, 0, s>>>(x, wt, bias, y, g, act);
}

}  // namespace kiln::cuda
