#version 450
#extension GL_GOOGLE_include_directive : enable
// Strided copy over an index space of rank <= 8: y[DST_BASE + idx.dst_strides]
// = x[SRC_BASE + idx.src_strides]. Transpose, Slice, Concat (one launch per
// input), Split (one per output) and unaliased reshapes.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_COPY_SRC_OFFSET) const int SRC_BASE = 0;
layout(constant_id = SPEC_COPY_DST_OFFSET) const int DST_BASE = 0;
layout(constant_id = SPEC_COPY_DIMS + 0) const int D0 = 1;
layout(constant_id = SPEC_COPY_DIMS + 1) const int D1 = 1;
layout(constant_id = SPEC_COPY_DIMS + 2) const int D2 = 1;
layout(constant_id = SPEC_COPY_DIMS + 3) const int D3 = 1;
layout(constant_id = SPEC_COPY_DIMS + 4) const int D4 = 1;
layout(constant_id = SPEC_COPY_DIMS + 5) const int D5 = 1;
layout(constant_id = SPEC_COPY_DIMS + 6) const int D6 = 1;
layout(constant_id = SPEC_COPY_DIMS + 7) const int D7 = 1;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 0) const int SS0 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 1) const int SS1 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 2) const int SS2 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 3) const int SS3 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 4) const int SS4 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 5) const int SS5 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 6) const int SS6 = 0;
layout(constant_id = SPEC_COPY_SRC_STRIDES + 7) const int SS7 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 0) const int DS0 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 1) const int DS1 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 2) const int DS2 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 3) const int DS3 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 4) const int DS4 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 5) const int DS5 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 6) const int DS6 = 0;
layout(constant_id = SPEC_COPY_DST_STRIDES + 7) const int DS7 = 0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int dims[8] = int[8](D0, D1, D2, D3, D4, D5, D6, D7);
  int ss[8] = int[8](SS0, SS1, SS2, SS3, SS4, SS5, SS6, SS7);
  int ds[8] = int[8](DS0, DS1, DS2, DS3, DS4, DS5, DS6, DS7);
  int rest = int(i), src = SRC_BASE, dst = DST_BASE;
  for (int d = 7; d >= 0; --d) {
    int k = rest % dims[d];
    rest /= dims[d];
    src += k * ss[d];
    dst += k * ds[d];
  }
  y[dst] = x[src];  // same storage type on both sides: moved as is
}
