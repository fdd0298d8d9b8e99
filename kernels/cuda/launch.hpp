#pragma once
// Host-side launchers of the CUDA backend's own kernels (ops.cu, conv.cu,
// fcm.cu). Plain C++ signatures, so that the backend's C++ files need neither
// nvcc nor the graph headers in device code. Every launcher only enqueues on
// `stream` (no synchronisation, no allocation), so it can be captured into a
// CUDA graph.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/conv_shape.hpp"

namespace kiln::cuda {

inline constexpr int kMaxDims = 8;

// Sizes or strides of up to kMaxDims axes, passed to kernels by value.
struct Dims8 {
  int64_t v[kMaxDims] = {};
  int n = 0;
};

// A fused activation as in engine/core/activation.hpp (kind = fb::ActivationKind).
struct Act {
  int kind = 0;
  float alpha = 0, beta = 0;
};

// ---- elementwise ------------------------------------------------------------------
void launch_activation(const float* x, float* y, int64_t n, Act act, cudaStream_t s);
// op: 0 add, 1 sub, 2 mul, 3 div; strides as broadcast to `shape` (0 on broadcast axes).
void launch_binary(int op, const float* a, Dims8 sa, const float* b, Dims8 sb, float* y, Dims8 shape, Act act,
                   cudaStream_t s);
// y[n][c][i] = act(x[n][c][i] * scale[c] + shift[c] (+ residual)); bias-only when scale is null.
void launch_channel_affine(const float* x, float* y, const float* scale, const float* shift, int64_t N, int64_t C,
                           int64_t inner, Act act, cudaStream_t s);
// BatchNormalization with its statistics on the device (when they are not constants).
void launch_batchnorm(const float* x, float* y, const float* scale, const float* bias, const float* mean,
                      const float* var, float eps, int64_t N, int64_t C, int64_t inner, cudaStream_t s);
// y[m][n] = act(alpha_scale * y[m][n] + beta * c[m*cs0 + n*cs1]) (c may be null).
void launch_gemm_epilogue(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0, int64_t cs1, Act act,
                          cudaStream_t s);

// ---- data movement ----------------------------------------------------------------
// dst[dst_base + sum idx*dst_strides] = src[src_base + sum idx*src_strides] over `shape`.
void launch_strided_copy(const float* src, Dims8 src_strides, float* dst, Dims8 dst_strides, Dims8 shape,
                         cudaStream_t s);
// Constant padding: y index o reads x index o - pads_begin (outside: value).
void launch_pad(const float* x, Dims8 x_shape, float* y, Dims8 y_shape, Dims8 pads_begin, float value, cudaStream_t s);

// ---- reductions ---------------------------------------------------------------------
// 3-D window pooling on [planes][D][H][W] (kind 0 max, 1 average).
struct PoolGeometry {
  int64_t planes;
  int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
  bool count_include_pad;
};
void launch_pool(int kind, const float* x, float* y, const PoolGeometry& g, cudaStream_t s);
// kind 0 mean, 1 max over each of `planes` rows of `plane` elements (one warp per row, double sums).
void launch_global_pool(int kind, const float* x, float* y, int64_t planes, int64_t plane, cudaStream_t s);
// Mean over the axes with reduced strides: out index enumerates kept_shape.
void launch_reduce_mean(const float* x, float* y, Dims8 kept_shape, Dims8 kept_strides, Dims8 red_shape,
                        Dims8 red_strides, cudaStream_t s);
void launch_softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, cudaStream_t s);

// ---- convolution (conv.cu) ------------------------------------------------------------
// NCHW, with up to three spatial axes as in engine/core/spatial.hpp (D, H, W).
struct ConvGeometry {
  int N, C, K, group;
  int in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];  // pad = begin pads (ends follow from sizes)
};
// cuConv-style direct convolution: threads along output pixels (coalesced), 4
// output channels per thread, weights read through the read-only cache.
void launch_conv_direct(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g, Act act,
                        cudaStream_t s);
// Depthwise (one input channel per group, any channel multiplier).
void launch_conv_depthwise(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g, Act act,
                           cudaStream_t s);
// im2win: window rows [N][C][OH][KH][W + pads] in `win`, then a convolution
// reading contiguous window rows.
size_t im2win_workspace_bytes(const ConvGeometry& g);
void launch_conv_im2win(const float* x, const float* w, const float* bias, float* y, float* win,
                        const ConvGeometry& g, Act act, cudaStream_t s);
// Implicit GEMM: 64x64 output tiles of [K/group] x [N*OH*OW], K-dimension
// C/group*KH*KW gathered from the input on the fly; weights pre-transposed
// to [group][C/group*KH*KW][K/group] (wt).
void launch_conv_implicit_gemm(const float* x, const float* wt, const float* bias, float* y, const ConvGeometry& g,
                               Act act, cudaStream_t s);

// ---- FCM fused pairs (fcm.cu) ---------------------------------------------------------
// Depthwise (dw geometry, weights [C][KH][KW]) then pointwise (C -> K, weights
// transposed to [C][K]) in one kernel: a block computes tile_p output pixels x
// tile_k output channels, producing the depthwise rows it needs in shared memory.
void launch_fcm_dw_pw(const float* x, const float* w_dw, const float* b_dw, Act act_dw, const float* wt_pw,
                      const float* b_pw, Act act_pw, float* y, const ConvGeometry& dw, int K, FcmDwPwTile tile,
                      cudaStream_t s);
// Pointwise (C -> M, weights transposed to [C][M]) then depthwise over M
// channels: a block computes tile_h x tile_w output pixels of tile_m channels,
// producing the pointwise values of the halo in shared memory.
int fcm_pw_dw_max_values_per_block();  // tile_m * halo pixels must not exceed this
void launch_fcm_pw_dw(const float* x, const float* wt_pw, const float* b_pw, Act act_pw, const float* w_dw,
                      const float* b_dw, Act act_dw, float* y, int C, const ConvGeometry& dw, FcmPwDwTile tile,
                      cudaStream_t s);

}  // namespace kiln::cuda
