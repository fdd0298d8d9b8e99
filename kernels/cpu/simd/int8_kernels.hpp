#pragma once
// The integer kernels of the CPU backend, compiled once per ISA level like the
// float ones (simd/int8_kernels.cpp) and gathered in one table. Every kernel
// follows engine/core/quantization.hpp bit for bit, so results are identical
// on every level and thread count.
//
// Activations are NHWC uint8 (an int8 tensor with zero point z is handled as
// uint8 with zero point z + 128: the same real values). Weights are handed in
// as int8 "w8" plus per-output-channel offsets, so that uint8 weights with any
// zero point stay exact: for a weight w with zero point zw,
//   w − zw = w8 + d[n],   w8 = w − 128 (uint8 weights) or w (int8 weights),
//                          d[n] = 128 − zw[n] (uint8) or −zw[n] (int8).
// The GEMM then computes, exactly in int32,
//   acc[m][n] = Σ_k a[m][k]·w8[n][k] + row_coef[n]·Σ_k a[m][k] + bias[n]
// where the caller folds every zero-point term that does not depend on m
// (−za·Σ_k(w8 + d), the model's own bias) into bias[n] and sets row_coef = d.
#include <cstddef>
#include <cstdint>

namespace kiln::cpu {

// Requantization of int32 accumulators to uint8 (quant::requantize).
struct Requant {
  const float* multiplier = nullptr;  // one per output channel, or one in all if !per_channel
  bool per_channel = false;
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 255;  // uint8 range narrowed by a fused Relu/Clip
};

// y[i] = quant::add(a[i], za, ma, b[i], zb, mb, zy, lo, hi).
struct QAddParams {
  int32_t za = 0, zb = 0, zy = 0;
  float ma = 1, mb = 1;
  int32_t lo = 0, hi = 255;
};

// C[M][N] (uint8, ldc) = requant(acc) with acc as in the header comment.
// A: M rows of K uint8, row m at a + m·lda. B: packed by pack_b.
struct QGemmArgs {
  const uint8_t* a = nullptr;
  size_t lda = 0;
  int M = 0, N = 0, K = 0;
  const void* b = nullptr;            // from pack_b(w8, N, K)
  const int32_t* bias = nullptr;      // N values, never null
  const int32_t* row_coef = nullptr;  // N values, or null when every d[n] is 0
  uint8_t* c = nullptr;
  size_t ldc = 0;
  Requant rq;
  // A residual Add taken into the epilogue: C = quant::add(requant(acc),
  // residual) with `add` (za: C's own zero point), each tile while it is in L1.
  const uint8_t* residual = nullptr;  // M rows of N, row m at residual + m·ldr; or null
  size_t ldr = 0;
  QAddParams add;
};

// Depthwise convolution of one image, rows [oh_begin, oh_end) of the output:
// acc[oh][ow][c] = Σ_taps (x − x_zero_point)·w + bias[c]; padding reads as x_zero_point.
struct QDepthwiseArgs {
  const uint8_t* x = nullptr;     // [H][W][C]
  uint8_t* y = nullptr;           // [OH][OW][C]
  const int16_t* w = nullptr;     // [KH][KW][C]: w − zw, exact in int16
  const int32_t* bias = nullptr;  // [C]
  int32_t x_zero_point = 0;
  int H = 0, W = 0, C = 0, OH = 0, OW = 0, KH = 0, KW = 0, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int oh_begin = 0, oh_end = 0;
  Requant rq;  // multipliers per channel c
};


// MaxPool of one NHWC image, output rows [oh_begin, oh_end): the largest byte
// of the taps inside the image, then table[v] when the output's quantization
// differs from the input's (requantization is monotonic, so the max commutes
// with it; the 256 entries are quant::requantize of each byte).
struct QMaxPoolArgs {
  const uint8_t* x = nullptr;  // [H][W][C]
  uint8_t* y = nullptr;        // [OH][OW][C]
  const uint8_t* table = nullptr;  // 256 entries, or null for the identity
  uint8_t empty = 0;               // a window with no tap inside the image: the output's zero point
  int H = 0, W = 0, C = 0, OW = 0, KH = 0, KW = 0, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int oh_begin = 0, oh_end = 0;
};

// A fast 3×3 convolution in one dimension (kernels/cpu/conv/int8_fast_conv.cpp):
// for n_in inputs x and the 3 taps w, scale·y = AT·((BT·x) ⊙ (G·w)) with
// y[i] = Σ_j x[i + j]·w[j], every entry a small integer. In 2-D the kernels
// apply it along both axes (scale² · Y = AT (U ⊙ V) Aᵀ).
struct FastTransform1D {
  static constexpr int kMaxIn = 8, kMaxTerms = 10, kMaxOut = 6;
  int n_in = 0, terms = 0, n_out = 0, scale = 1;
  int8_t bt[kMaxTerms][kMaxIn] = {};
  int8_t g[kMaxTerms][3] = {};
  int8_t at[kMaxOut][kMaxTerms] = {};
};

// One input tile of a fast convolution: u[(t1·terms + t2)·u_stride + c] =
// (BT X BTᵀ)[t1][t2] for every channel c < C, X the n_in × n_in input window at
// (ih0, iw0) minus x_zero_point (0 outside the image). Channels C..Cp−1 are
// written as 0. |u| <= (max row L1 of BT)²·255, int16 for both transforms.
struct QFastInArgs {
  const uint8_t* x = nullptr;  // [H][W][C]
  int H = 0, W = 0, C = 0, Cp = 0;
  int ih0 = 0, iw0 = 0;
  int32_t x_zero_point = 0;
  int transform = 0;  // index into kFastTransforms (simd/fast_conv_transforms.hpp)
  int16_t* u = nullptr;
  size_t u_stride = 0;
};

// c[m][n] = Σ_k a[m][k]·b[n][k] in int32 with two's-complement wraparound
// (the caller proves the final result exact), a and b int16, K even.
// b packed by pack_s16 with k_total ≥ k_begin + K; columns past N of the last
// panel are written too (c has room up to a multiple of s16_nr).
struct QGemmS16Args {
  const int16_t* a = nullptr;
  size_t lda = 0;
  int M = 0, N = 0, K = 0;
  const void* b = nullptr;  // pack_s16(w, N_total, k_total) at its panel n0 / s16_nr
  int k_total = 0, k_begin = 0;
  int32_t* c = nullptr;
  size_t ldc = 0;
};

// One output tile of a fast convolution for channels [0, N): z = (AT P Aᵀ)/scale²
// with P[t1][t2] = p[(t1·terms + t2)·p_stride + n], the division exact
// (wraparound cancels when the true z fits int32). With `partial`, z is added
// into partial[(i·n_out + j)·round_up(N, 32) + n] (the channel chunks before the last);
// otherwise acc = z + partial (if given) + bias[n] is requantized into the rows
// and columns i < rows, j < cols of y (row stride y_row, pixel stride y_pixel).
struct QFastOutArgs {
  const int32_t* p = nullptr;
  size_t p_stride = 0;
  int N = 0;
  int transform = 0;  // index into kFastTransforms
  int32_t* partial = nullptr;
  bool accumulate = false;  // add into partial and stop
  const int32_t* bias = nullptr;
  Requant rq;  // multipliers from channel 0 of this call
  uint8_t* y = nullptr;
  size_t y_row = 0, y_pixel = 0;
  int rows = 0, cols = 0;
};

struct Int8Kernels {
  const char* isa;
  int lanes;  // int32 lanes per vector: depthwise vectorises along channels in blocks of this many
  // Bytes pack_b writes for an N×K weight matrix (64-byte multiple).
  size_t (*packed_b_size)(int N, int K);
  // w8: [N][K] int8, row-major. out: packed_b_size(N, K) bytes, 64-byte aligned.
  void (*pack_b)(const int8_t* w8, int N, int K, void* out);
  void (*gemm)(const QGemmArgs& args);
  void (*depthwise)(const QDepthwiseArgs& args);
  void (*add)(uint8_t* y, const uint8_t* a, const uint8_t* b, size_t n, const QAddParams& p);
  // y[c] = requant(Σ_p x[p][c] − pixels·x_zero_point) for `pixels` rows of C
  // (rq.multiplier already divides by `pixels`).
  void (*global_avgpool)(uint8_t* y, const uint8_t* x, size_t pixels, size_t C, int32_t x_zero_point,
                         const Requant& rq);
  void (*max_pool)(const QMaxPoolArgs& args);
  // Per-tensor QuantizeLinear / DequantizeLinear of n values (quant::quantize / quant::dequantize).
  void (*quantize)(uint8_t* y, const float* x, size_t n, float scale, int32_t zero_point, int32_t lo, int32_t hi);
  void (*dequantize)(float* y, const uint8_t* x, size_t n, float scale, int32_t zero_point);
  // The fast 3×3 convolutions' three steps (QFastInArgs, QGemmS16Args, QFastOutArgs).
  int s16_nr;  // columns per packed int16 panel
  size_t (*packed_s16_size)(int N, int K);
  void (*pack_s16)(const int16_t* w, int N, int K, void* out);  // w: [N][K], K even
  void (*gemm_s16)(const QGemmS16Args& args);
  void (*fast_input)(const QFastInArgs& args);
  void (*fast_output)(const QFastOutArgs& args);
};

}  // namespace kiln::cpu
