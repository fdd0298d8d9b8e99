// FCM: fused depthwise->pointwise and pointwise->depthwise convolutions (after
// "Fusing Depthwise and Pointwise Convolutions for Efficient Inference on
// GPUs"). The intermediate tensor never reaches global memory: each block
// computes the part of it that its output tile needs in shared memory. Tile
// sizes come from fuse_planner.cpp. No atomics: every output is summed by one
// thread in a fixed channel order.
#include "kernels/cuda/device_common.cuh"

namespace kiln::cuda {

namespace {

// kThreads (256, device_common.cuh) threads per block, as the tiles assume.
constexpr int kChunk = 16;  // input channels staged per shared-memory round

// Block: TP output pixels (of one image, flattened OH*OW) x TK output channels.
// Per chunk of kChunk channels: the depthwise values of the tile into sD, the
// pointwise weights into sW, then a 4 x RP register tile per thread.
template <int TP, int TK>
__global__ void __launch_bounds__(kThreads) fcm_dw_pw_kernel(const float* __restrict__ x,
                                                             const float* __restrict__ w_dw,
                                                             const float* __restrict__ b_dw, Act act_dw,
                                                             const float* __restrict__ wt_pw,
                                                             const float* __restrict__ b_pw, Act act_pw,
                                                             float* __restrict__ y, ConvGeometry g, int K) {
  constexpr int RP = TP * TK / (kThreads * 4);
  constexpr int TXN = TP / RP;
  static_assert(TXN * (TK / 4) == kThreads, "tile must map onto 256 threads");
  __shared__ float sD[kChunk][TP];
  __shared__ float sW[kChunk][TK];
  const int C = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW;
  const int P = OH * OW;
  const int p0 = blockIdx.x * TP, k0 = blockIdx.y * TK, n = blockIdx.z;
  const int tid = threadIdx.x, tx = tid % TXN, ty = tid / TXN;
  float acc[4][RP];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < RP; ++j) acc[i][j] = 0.0f;
  for (int c0 = 0; c0 < C; c0 += kChunk) {
    for (int e = tid; e < kChunk * TP; e += kThreads) {
      const int cc = e / TP, pp = e % TP;
      const int c = c0 + cc, p = p0 + pp;
      float v = 0.0f;
      if (c < C && p < P) {
        const int oh = p / OW, ow = p % OW;
        const float* in = x + (int64_t{n} * C + c) * H * W;
        const float* wk = w_dw + c * KH * KW;
        float s = b_dw ? b_dw[c] : 0.0f;
        for (int kh = 0; kh < KH; ++kh) {
          const int ih = oh * g.sh - g.pt + kh * g.dh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < KW; ++kw) {
            const int iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw >= 0 && iw < W) s += __ldg(in + ih * W + iw) * __ldg(wk + kh * KW + kw);
          }
        }
        v = apply_act(act_dw, s);
      }
      sD[cc][pp] = v;
    }
    for (int e = tid; e < kChunk * TK; e += kThreads) {
      const int cc = e / TK, kk = e % TK;
      sW[cc][kk] = (c0 + cc < C && k0 + kk < K) ? wt_pw[int64_t{c0 + cc} * K + k0 + kk] : 0.0f;
    }
    __syncthreads();
#pragma unroll 4
    for (int cc = 0; cc < kChunk; ++cc) {
      float wv[4], dv[RP];
#pragma unroll
      for (int i = 0; i < 4; ++i) wv[i] = sW[cc][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < RP; ++j) dv[j] = sD[cc][tx + j * TXN];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < RP; ++j) acc[i][j] += wv[i] * dv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int k = k0 + ty * 4 + i;
    if (k >= K) continue;
    const float bv = b_pw ? b_pw[k] : 0.0f;
#pragma unroll
    for (int j = 0; j < RP; ++j) {
      const int p = p0 + tx + j * TXN;
      if (p < P) y[(int64_t{n} * K + k) * P + p] = apply_act(act_pw, acc[i][j] + bv);
    }
  }
}

constexpr int kPwDwValues = 8;  // pointwise values per thread: tile_m * halo <= 8 * 256

// Block: tile_h x tile_w output pixels of tile_m channels. Stage 1 computes
// the pointwise output over the block's input halo (zero where the depthwise
// reads padding), staged by chunks of input channels; stage 2 runs the
// depthwise convolution from shared memory.
__global__ void __launch_bounds__(kThreads) fcm_pw_dw_kernel(const float* __restrict__ x,
                                                             const float* __restrict__ wt_pw,
                                                             const float* __restrict__ b_pw, Act act_pw,
                                                             const float* __restrict__ w_dw,
                                                             const float* __restrict__ b_dw, Act act_dw,
                                                             float* __restrict__ y, int C, ConvGeometry g,
                                                             FcmPwDwTile t) {
  extern __shared__ float smem[];
  const int M = g.C, H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW;
  const int sh = g.sh, sw = g.sw, dh = g.dh, dw = g.dw;
  const int halo_h = (t.tile_h - 1) * sh + (KH - 1) * dh + 1;
  const int halo_w = (t.tile_w - 1) * sw + (KW - 1) * dw + 1;
  const int HP = halo_h * halo_w;
  float* sPW = smem;                       // [tile_m][HP]
  float* sX = sPW + t.tile_m * HP;         // [kChunk][HP]
  float* sW = sX + kChunk * HP;            // [kChunk][tile_m]
  const int tiles_w = (OW + t.tile_w - 1) / t.tile_w;
  const int oh0 = (blockIdx.x / tiles_w) * t.tile_h, ow0 = (blockIdx.x % tiles_w) * t.tile_w;
  const int ih0 = oh0 * sh - g.pt, iw0 = ow0 * sw - g.pl;
  const int m0 = blockIdx.y * t.tile_m, n = blockIdx.z;
  const int tid = threadIdx.x;
  const int nv = t.tile_m * HP;
  float acc[kPwDwValues];
#pragma unroll
  for (int r = 0; r < kPwDwValues; ++r) acc[r] = 0.0f;
  for (int c0 = 0; c0 < C; c0 += kChunk) {
    for (int e = tid; e < kChunk * HP; e += kThreads) {
      const int cc = e / HP, hp = e % HP;
      const int ih = ih0 + hp / halo_w, iw = iw0 + hp % halo_w;
      const int c = c0 + cc;
      sX[e] = (c < C && ih >= 0 && ih < H && iw >= 0 && iw < W) ? __ldg(x + ((int64_t{n} * C + c) * H + ih) * W + iw)
                                                                 : 0.0f;
    }
    for (int e = tid; e < kChunk * t.tile_m; e += kThreads) {
      const int cc = e / t.tile_m, mm = e % t.tile_m;
      sW[e] = (c0 + cc < C && m0 + mm < M) ? wt_pw[int64_t{c0 + cc} * M + m0 + mm] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kPwDwValues; ++r) {
      const int v = tid + r * kThreads;
      if (v < nv) {
        const int mm = v / HP, hp = v % HP;
        float a = acc[r];
        for (int cc = 0; cc < kChunk; ++cc) a += sW[cc * t.tile_m + mm] * sX[cc * HP + hp];
        acc[r] = a;
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < kPwDwValues; ++r) {
    const int v = tid + r * kThreads;
    if (v < nv) {
      const int mm = v / HP, hp = v % HP;
      const int ih = ih0 + hp / halo_w, iw = iw0 + hp % halo_w;
      const int m = m0 + mm;
      // The depthwise reads zeros where it pads, not act(bias).
      sPW[v] = (m < M && ih >= 0 && ih < H && iw >= 0 && iw < W) ? apply_act(act_pw, acc[r] + (b_pw ? b_pw[m] : 0.0f))
                                                                  : 0.0f;
    }
  }
  __syncthreads();
  const int tile_pixels = t.tile_h * t.tile_w;
  for (int e = tid; e < t.tile_m * tile_pixels; e += kThreads) {
    const int mm = e / tile_pixels, q = e % tile_pixels;
    const int oy = q / t.tile_w, ox = q % t.tile_w;
    const int oh = oh0 + oy, ow = ow0 + ox, m = m0 + mm;
    if (oh >= OH || ow >= OW || m >= M) continue;
    const float* src = sPW + mm * HP;
    const float* wk = w_dw + m * KH * KW;
    float s = b_dw ? b_dw[m] : 0.0f;
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw)
        s += src[(oy * sh + kh * dh) * halo_w + ox * sw + kw * dw] * __ldg(wk + kh * KW + kw);
    y[((int64_t{n} * M + m) * OH + oh) * OW + ow] = apply_act(act_dw, s);
  }
}

template <int TP, int TK>
void dw_pw(const float* x, const float* w_dw, const float* b_dw, Act act_dw, const float* wt_pw, const float* b_pw,
           Act act_pw, float* y, const ConvGeometry& g, int K, cudaStream_t s) {
  const int P = g.OH * g.OW;
  const dim3 grid(blocks_for(P, TP), static_cast<unsigned>((K + TK - 1) / TK), static_cast<unsigned>(g.N));
  fcm_dw_pw_kernel<TP, TK><<<grid, kThreads, 0, s>>>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, g, K);
}

}  // namespace

void launch_fcm_dw_pw(const float* x, const float* w_dw, const float* b_dw, Act act_dw, const float* wt_pw,
                      const float* b_pw, Act act_pw, float* y, const ConvGeometry& dw, int K, FcmDwPwTile tile,
                      cudaStream_t s) {
  // The tile sizes fuse_planner.cpp may choose (fcm_dw_pw_tiles()).
  if (tile.tile_p == 32 && tile.tile_k == 32) return dw_pw<32, 32>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
  if (tile.tile_p == 32 && tile.tile_k == 64) return dw_pw<32, 64>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
  if (tile.tile_p == 64 && tile.tile_k == 32) return dw_pw<64, 32>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
  if (tile.tile_p == 64 && tile.tile_k == 64) return dw_pw<64, 64>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
  if (tile.tile_p == 128 && tile.tile_k == 32) return dw_pw<128, 32>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
  return dw_pw<128, 64>(x, w_dw, b_dw, act_dw, wt_pw, b_pw, act_pw, y, dw, K, s);
}

int fcm_pw_dw_max_values_per_block() { return kPwDwValues * kThreads; }

void launch_fcm_pw_dw(const float* x, const float* wt_pw, const float* b_pw, Act act_pw, const float* w_dw,
                      const float* b_dw, Act act_dw, float* y, int C, const ConvGeometry& dw, FcmPwDwTile t,
                      cudaStream_t s) {
  const int halo_h = (t.tile_h - 1) * dw.sh + (dw.KH - 1) * dw.dh + 1;
  const int halo_w = (t.tile_w - 1) * dw.sw + (dw.KW - 1) * dw.dw + 1;
  const int HP = halo_h * halo_w;
  const size_t smem = static_cast<size_t>(t.tile_m * HP + kChunk * HP + kChunk * t.tile_m) * sizeof(float);
  const unsigned tiles = static_cast<unsigned>(((dw.OH + t.tile_h - 1) / t.tile_h) *
                                               ((dw.OW + t.tile_w - 1) / t.tile_w));
  const dim3 grid(tiles, static_cast<unsigned>((dw.C + t.tile_m - 1) / t.tile_m), static_cast<unsigned>(dw.N));
  fcm_pw_dw_kernel<<<grid, kThreads, smem, s>>>(x, wt_pw, b_pw, act_pw, w_dw, b_dw, act_dw, y, C, dw, t);
}

}  // namespace kiln::cuda
