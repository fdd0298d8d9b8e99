#version 450
#extension GL_GOOGLE_include_directive : enable
// Broadcasting Add/Sub/Mul/Div (rank <= 8, leading axes padded with size 1)
// with a fused activation. y may alias a or b (same index).
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer A { STORE_T a[]; };
layout(std430, binding = 2) readonly buffer B { STORE_T b[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_BINARY_OP) const int OP = BINARY_ADD;
layout(constant_id = SPEC_BINARY_ACT_KIND) const int ACT = 0;
layout(constant_id = SPEC_BINARY_ACT_ALPHA) const float ALPHA = 0.0;
layout(constant_id = SPEC_BINARY_ACT_BETA) const float BETA = 0.0;
layout(constant_id = SPEC_BINARY_DIMS + 0) const int D0 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 1) const int D1 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 2) const int D2 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 3) const int D3 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 4) const int D4 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 5) const int D5 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 6) const int D6 = 1;
layout(constant_id = SPEC_BINARY_DIMS + 7) const int D7 = 1;
layout(constant_id = SPEC_BINARY_A_STRIDES + 0) const int SA0 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 1) const int SA1 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 2) const int SA2 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 3) const int SA3 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 4) const int SA4 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 5) const int SA5 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 6) const int SA6 = 0;
layout(constant_id = SPEC_BINARY_A_STRIDES + 7) const int SA7 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 0) const int SB0 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 1) const int SB1 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 2) const int SB2 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 3) const int SB3 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 4) const int SB4 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 5) const int SB5 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 6) const int SB6 = 0;
layout(constant_id = SPEC_BINARY_B_STRIDES + 7) const int SB7 = 0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int dims[8] = int[8](D0, D1, D2, D3, D4, D5, D6, D7);
  int sa[8] = int[8](SA0, SA1, SA2, SA3, SA4, SA5, SA6, SA7);
  int sb[8] = int[8](SB0, SB1, SB2, SB3, SB4, SB5, SB6, SB7);
  int rest = int(i), ia = 0, ib = 0;
  for (int d = 7; d >= 0; --d) {
    int k = rest % dims[d];
    rest /= dims[d];
    ia += k * sa[d];
    ib += k * sb[d];
  }
  float p = float(a[ia]), q = float(b[ib]), v;
  if (OP == BINARY_ADD) v = p + q;
  else if (OP == BINARY_SUB) v = p - q;
  else if (OP == BINARY_MUL) v = p * q;
  else v = p / q;
  y[i] = STORE_T(activate(v, ACT, ALPHA, BETA));
}
