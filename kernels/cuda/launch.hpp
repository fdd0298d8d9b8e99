#pragma once
// Host-side launchers of the CUDA backend's own kernels (ops/<family>.cu,
// conv/conv.cu, conv/fcm.cu). Plain C++ signatures, so that the backend's C++
// files need neither nvcc nor the graph headers in device code. The
// geometry they take is engine/core's own (ConvGeometry, Window3d,
// StridedView), passed by value. Every launcher only enqueues on `stream`
// (no synchronisation, no allocation), so it can be captured into a CUDA graph.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/binary_op.hpp"
#include "engine/core/conv_geometry.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/cuda/device_model.hpp"

namespace kiln::cuda {

// The fused activations of engine/core/activation.hpp, numbered as
// fb::ActivationKind (checked in ops/activation.cpp).
enum class ActKind : int { None, Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh };
struct Act {
  ActKind kind = ActKind::None;
  float alpha = 0, beta = 0;
};

enum class PoolKind : int { Max, Average };

// ---- activation, binary, batchnorm, matmul epilogues ---------------------------------
void launch_activation(const float* x, float* y, int64_t n, Act act, cudaStream_t s);
// y (contiguous, a's view's shape) = act(a op b), each operand read through its broadcast view.
void launch_binary(BinaryOp op, const float* a, const StridedView& va, const float* b, const StridedView& vb, float* y,
                   Act act, cudaStream_t s);
// y[n][c][i] = act(x[n][c][i] * scale[c] + shift[c]); either may be null (a bias-only epilogue).
void launch_channel_affine(const float* x, float* y, const float* scale, const float* shift, int64_t N, int64_t C,
                           int64_t inner, Act act, cudaStream_t s);
// BatchNormalization with its statistics on the device (when they are not constants).
void launch_batchnorm(const float* x, float* y, const float* scale, const float* bias, const float* mean,
                      const float* var, float eps, int64_t N, int64_t C, int64_t inner, cudaStream_t s);
// y[m][n] = act(y[m][n] + beta * c[m*cs0 + n*cs1]) (c may be null).
void launch_gemm_epilogue(float* y, int64_t M, int64_t N, float beta, const float* c, int64_t cs0, int64_t cs1, Act act,
                          cudaStream_t s);

// ---- data movement ---------------------------------------------------------------------
// y[dst view] = x[src view] (the views share their shape).
void launch_strided_copy(const float* x, const StridedView& src, float* y, const StridedView& dst, cudaStream_t s);
// Constant padding: output index o reads input o - begin where inside, else `value`.
void launch_pad(const float* x, const PadView& v, float* y, float value, cudaStream_t s);

// ---- pools, reductions, softmax ----------------------------------------------------------
// Window pooling of `planes` (N*C) planes.
void launch_pool(PoolKind kind, const float* x, float* y, int64_t planes, const Window3d& w, bool count_include_pad,
                 cudaStream_t s);
// Mean or max over each of `planes` rows of `plane` elements (one warp per row, double sums).
void launch_global_pool(PoolKind kind, const float* x, float* y, int64_t planes, int64_t plane, cudaStream_t s);
void launch_reduce_mean(const float* x, float* y, const ReduceViews& v, cudaStream_t s);
void launch_softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, cudaStream_t s);

// ---- convolution (conv/conv.cu) ----------------------------------------------------------
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

// ---- FCM fused pairs (conv/fcm.cu) ---------------------------------------------------------
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
