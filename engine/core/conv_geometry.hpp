#pragma once
// Sliding-window geometry: Window3d for pools (and shape inference), and
// ConvGeometry, the one description of a convolution shared by the reference
// kernel and every backend's algorithms, cost models and tuning-cache keys.
// Up to three spatial axes (depth, height, width); fewer are padded with
// size-1 axes in front: a 2-D layer has D = OD = KD = 1 and no depth pads, a
// 1-D one also H = OH = KH = 1, so one 3-D loop nest serves every rank.
//
// Plain ints and arrays and no dependencies, so that CUDA kernels take both
// by value. Built from a node by make_window() and conv_geometry()
// (engine/core/spatial.hpp), with the output-size rule of shape inference.
#include <cstdint>
#include <string>

namespace kiln {

// Per axis in depth, height, width order.
struct Window3d {
  int rank = 0;  // spatial axes in the original op: 1, 2 or 3
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
};

struct ConvGeometry {
  int rank = 2;  // spatial axes of the op: 1, 2 or 3
  int N = 1, C = 1, K = 1, group = 1;
  int D = 1, H = 1, W = 1;     // input
  int OD = 1, OH = 1, OW = 1;  // output
  int KD = 1, KH = 1, KW = 1;  // kernel
  int sd = 1, sh = 1, sw = 1;  // strides
  int dd = 1, dh = 1, dw = 1;  // dilations
  int pf = 0, pt = 0, pl = 0;  // pads before: front (depth), top, left
  int pk = 0, pb = 0, pr = 0;  // pads after: back (depth), bottom, right

  int cin_per_group() const { return C / group; }
  int cout_per_group() const { return K / group; }

  // No depth axis to speak of: 1-D and 2-D layers, and 3-D ones whose depth is trivial.
  bool is_planar() const { return D == 1 && OD == 1 && KD == 1 && pf == 0 && pk == 0; }
  // One input and one output channel per group (channel multiplier 1).
  bool is_depthwise() const { return group == C && group == K; }
  // One input channel per group, any channel multiplier K / C.
  bool one_input_channel_per_group() const { return group == C; }
  bool is_dense() const { return group == 1; }
  // A 1x1(x1) kernel and no pads: every output pixel reads one input pixel.
  bool is_pointwise() const {
    return KD == 1 && KH == 1 && KW == 1 && pf == 0 && pt == 0 && pl == 0 && pk == 0 && pb == 0 && pr == 0;
  }
  // ... with unit strides too: a plain GEMM over the pixels (per group).
  bool is_pointwise_stride1() const { return is_pointwise() && sd == 1 && sh == 1 && sw == 1; }
  bool has_symmetric_pads() const { return pf == pk && pt == pb && pl == pr; }

  int64_t macs() const { return int64_t{N} * OD * OH * OW * K * static_cast<int64_t>(cin_per_group()) * KD * KH * KW; }
  int64_t input_elems() const { return int64_t{N} * C * D * H * W; }
  int64_t output_elems() const { return int64_t{N} * K * OD * OH * OW; }
  int64_t output_pixels() const { return int64_t{N} * OD * OH * OW; }
  int64_t weight_elems() const { return int64_t{K} * cin_per_group() * KD * KH * KW; }

  // "N1 C32 H112 W112 K32 k3x3 s1x1 d1x1 p1,1,1,1 g32", and for a layer that
  // is not planar " 3d D6 kd3 sd1 dd1 pd1,1": the tuning-cache key of every
  // backend (pads top, left, bottom, right).
  std::string key() const;
};

}  // namespace kiln
