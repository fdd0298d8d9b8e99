#pragma once
// The kernels compiled once per instruction-set level (files under simd/),
// gathered in one table so the rest of the backend never names an ISA.
// Layouts: activations are NHWC; weights are packed by the algorithms.
#include <cstddef>
#include <cstdint>

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
};

struct DepthwiseArgs {
  const float* x;  // [H][W][C] (one image)
  float* y;        // [OH][OW][C]
  const float* w;  // [KH][KW][C]
  const float* bias;  // [C] or null
  int H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
  int oh_begin, oh_end;  // the output rows to compute
  Activation act;
};

struct PoolArgs {
  const float* x;  // [H][W][C]
  float* y;        // [OH][OW][C]
  int H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
  int oh_begin, oh_end;
  bool is_max;
  bool count_include_pad;
};

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div };

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
};

}  // namespace kiln::cpu
