#version 450
#extension GL_GOOGLE_include_directive : enable
// ReduceMean: one thread per output; kept axes give the base offset, the
// reduced axes are summed (rank <= 8; reduced axes have kept size 1).
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_REDUCE_COUNT) const int RED_COUNT = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 0) const int K0 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 1) const int K1 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 2) const int K2 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 3) const int K3 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 4) const int K4 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 5) const int K5 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 6) const int K6 = 1;
layout(constant_id = SPEC_REDUCE_KEPT_DIMS + 7) const int K7 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 0) const int R0 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 1) const int R1 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 2) const int R2 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 3) const int R3 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 4) const int R4 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 5) const int R5 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 6) const int R6 = 1;
layout(constant_id = SPEC_REDUCE_REDUCED_DIMS + 7) const int R7 = 1;
layout(constant_id = SPEC_REDUCE_STRIDES + 0) const int S0 = 0;  // input strides
layout(constant_id = SPEC_REDUCE_STRIDES + 1) const int S1 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 2) const int S2 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 3) const int S3 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 4) const int S4 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 5) const int S5 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 6) const int S6 = 0;
layout(constant_id = SPEC_REDUCE_STRIDES + 7) const int S7 = 0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int kept[8] = int[8](K0, K1, K2, K3, K4, K5, K6, K7);
  int red[8] = int[8](R0, R1, R2, R3, R4, R5, R6, R7);
  int st[8] = int[8](S0, S1, S2, S3, S4, S5, S6, S7);
  int rest = int(i), base = 0;
  for (int d = 7; d >= 0; --d) {
    base += (rest % kept[d]) * st[d];
    rest /= kept[d];
  }
  float sum = 0.0;
  for (int r = 0; r < RED_COUNT; ++r) {
    int q = r, off = 0;
    for (int d = 7; d >= 0; --d) {
      off += (q % red[d]) * st[d];
      q /= red[d];
    }
    sum += float(x[base + off]);
  }
  y[i] = STORE_T(sum / float(RED_COUNT));
}
