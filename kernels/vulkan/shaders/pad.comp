#version 450
#extension GL_GOOGLE_include_directive : enable
// Constant Pad (negative pads crop): output index o reads input o - pad_begin.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_PAD_VALUE) const float VALUE = 0.0;
layout(constant_id = SPEC_PAD_OUT_DIMS + 0) const int O0 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 1) const int O1 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 2) const int O2 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 3) const int O3 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 4) const int O4 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 5) const int O5 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 6) const int O6 = 1;
layout(constant_id = SPEC_PAD_OUT_DIMS + 7) const int O7 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 0) const int I0 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 1) const int I1 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 2) const int I2 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 3) const int I3 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 4) const int I4 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 5) const int I5 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 6) const int I6 = 1;
layout(constant_id = SPEC_PAD_IN_DIMS + 7) const int I7 = 1;
layout(constant_id = SPEC_PAD_BEGIN + 0) const int P0 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 1) const int P1 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 2) const int P2 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 3) const int P3 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 4) const int P4 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 5) const int P5 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 6) const int P6 = 0;
layout(constant_id = SPEC_PAD_BEGIN + 7) const int P7 = 0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int od[8] = int[8](O0, O1, O2, O3, O4, O5, O6, O7);
  int id[8] = int[8](I0, I1, I2, I3, I4, I5, I6, I7);
  int pb[8] = int[8](P0, P1, P2, P3, P4, P5, P6, P7);
  int rest = int(i), src = 0, stride = 1;
  bool inside = true;
  for (int d = 7; d >= 0; --d) {
    int k = rest % od[d] - pb[d];
    rest /= od[d];
    if (k < 0 || k >= id[d]) inside = false;
    src += k * stride;
    stride *= id[d];
  }
  y[i] = inside ? x[src] : STORE_T(VALUE);
}
