#pragma once
// The kernels compiled once per instruction-set level (files under simd/),
// gathered in one table so the rest of the backend never names an ISA.
// Layouts: activations are NHWC; weights are packed by the algorithms.
#include <cstddef>
#include <cstdint>

#include "engine/core/binary_op.hpp"

namespace kiln::cpu {

// A fused activation as the kernels see it (mirrors fb::FusedActivation).
struct Activation {
  uint8_t kind = 0;  // fb::ActivationKind
  float alpha = 0, beta = 0;
};

// One register tile of C = A·B: up to mr rows × nr columns.
// A is given by row pointers, in segments: a[s * mr + r] is row r's data for
// segment s (seg_len contiguous floats). This one form covers 1×1
// convolutions (one segment, rows strided in the input), im2col and im2win
// (rows in a workspace, possibly overlapping) and the direct convolution
// (one segment per kernel tap, rows pointing straight into the input or at a
// zero row for padding).
struct MicroTile {
  const float* const* a;
  int nseg = 1, seg_len = 0;
  const float* b;  // packed panel: nseg*seg_len rows of nr floats
  float* c;
  size_t ldc;
  int m, n;                     // valid rows (≤ mr) and columns (≤ nr)
  bool accumulate = false;      // add to what C holds (a later K block)
  bool final = true;            // apply bias, residual and activation
  const float* bias = nullptr;  // nr values for this tile's columns, or null
  const float* residual = nullptr;  // added before the activation, or null
  size_t ldr = 0;
  Activation act;
  // B floats to prefetch into L2 while this tile runs, spread over its K
  // steps (the next micro-panel, which otherwise arrives from L3 or memory
  // only when the next tile stalls on it); empty when prefetch == prefetch_end.
  const float* prefetch = nullptr;
  const float* prefetch_end = nullptr;
};

struct DepthwiseArgs {
  const float* x;  // [H][W][C] (one image)
  float* y;        // [OH][OW][C]
  const float* w;  // [KH][KW][C]
  const float* bias;  // [C] or null
  int H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
  int oh_begin, oh_end;  // the output rows to compute
  Activation act;
  // Optional, for fused layers that stream rows through a small buffer:
  // x_rows[ih] points at input row ih (instead of x + ih·W·C), and output row
  // oh is written at y + (oh - y_first_row)·OW·C.
  const float* const* x_rows = nullptr;
  int y_first_row = 0;
};

struct PoolArgs {
  const float* x;  // [H][W][C]
  float* y;        // [OH][OW][C]
  int H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
  int oh_begin, oh_end;
  bool is_max;
  bool count_include_pad;
};


// Winograd F(m×m, 3×3) tile transforms (conv/winograd.cpp), vectorised along
// n channels; every point of a tile is n contiguous floats given by a
// pointer. With t = m + 2 points per side: input (output = false): dst[i] =
// (Bᵀ d B)[i] for the t·t points of a t×t tile d, src[i] at point i (a row of
// zeros for padding). Output (output = true): dst[j] = act((Aᵀ m A)[j] + bias
// + residual[j]) for the m·m points of the result, src[i] at point i of the
// t×t product m; a null dst[j] is skipped (past the output's edge); a null
// bias, residual or residual[j] adds nothing.
struct WinogradArgs {
  bool output = false;
  const float* const* src = nullptr;       // t·t points
  float* const* dst = nullptr;             // t·t (input) or m·m (output) points
  const float* const* residual = nullptr;  // m·m points (output only)
  const float* bias = nullptr;             // n values (output only)
  int n = 0;
  Activation act;  // output only
};

struct SimdKernels {
  const char* isa;
  int vl;      // floats per vector
  int mr, nr;  // GEMM register tile
  void (*gemm_tile)(const MicroTile&);
  void (*depthwise)(const DepthwiseArgs&);
  void (*pool)(const PoolArgs&);
  // y[i] = act(x[i]); y may equal x.
  void (*activation)(float* y, const float* x, size_t n, Activation act);
  // y = act(a op b), all n long; y may equal a or b.
  void (*binary)(float* y, const float* a, const float* b, size_t n, BinaryOp op, Activation act);
  // y[p][c] = act(a[p][c] op b[c]) for `pixels` rows of C (NHWC per-channel broadcast);
  // b_first: the per-channel operand is the left one.
  void (*binary_channel)(float* y, const float* a, const float* b, size_t pixels, size_t C, BinaryOp op,
                         bool b_first, Activation act);
  // y[c] = mean (or max) over `pixels` rows of x[p][c].
  void (*global_pool)(float* y, const float* x, size_t pixels, size_t C, bool is_max);
  // Winograd input or output transform of one tile (see WinogradArgs) for
  // F(2×2, 3×3), F(4×4, 3×3) and F(6×6, 3×3).
  void (*winograd_f23)(const WinogradArgs& a);
  void (*winograd_f43)(const WinogradArgs& a);
  void (*winograd_f63)(const WinogradArgs& a);
  // Softmax along an axis of `len` values `inner` floats apart, for `outer`
  // blocks of len·inner floats; y may equal x.
  void (*softmax)(float* y, const float* x, size_t outer, size_t len, size_t inner);
  // Floats of K per GEMM block (conv/gemm_driver.hpp): 0 sizes the block for
  // L1 from nr, which differs per level; Determinism::Portable fixes it, as
  // each block's sum is added to the previous blocks' as a whole.
  int k_block;
};

}  // namespace kiln::cpu
