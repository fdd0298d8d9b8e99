#version 450
#extension GL_GOOGLE_include_directive : enable
// Gemm and MatMul: y[b, m, n] = act(ALPHA * sum_k A(b, m, k) B(b, k, n) + BETA * C(m, n)),
// A and B read through strides (transposes), batch axes (rank <= 6) broadcast.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer A { STORE_T a[]; };
layout(std430, binding = 2) readonly buffer B { STORE_T b[]; };
layout(std430, binding = 3) readonly buffer Cb { STORE_T c[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_MATMUL_M) const int M = 1;
layout(constant_id = SPEC_MATMUL_N) const int N = 1;
layout(constant_id = SPEC_MATMUL_K) const int K = 1;
layout(constant_id = SPEC_MATMUL_A_SM) const int A_SM = 0;
layout(constant_id = SPEC_MATMUL_A_SK) const int A_SK = 0;
layout(constant_id = SPEC_MATMUL_B_SK) const int B_SK = 0;
layout(constant_id = SPEC_MATMUL_B_SN) const int B_SN = 0;
layout(constant_id = SPEC_MATMUL_HAS_C) const int HAS_C = 0;
layout(constant_id = SPEC_MATMUL_C_SM) const int C_SM = 0;
layout(constant_id = SPEC_MATMUL_C_SN) const int C_SN = 0;
layout(constant_id = SPEC_MATMUL_ALPHA) const float ALPHA = 1.0;
layout(constant_id = SPEC_MATMUL_BETA) const float BETA = 1.0;
layout(constant_id = SPEC_MATMUL_ACT_KIND) const int ACT = 0;
layout(constant_id = SPEC_MATMUL_ACT_ALPHA) const float ACT_A = 0.0;
layout(constant_id = SPEC_MATMUL_ACT_BETA) const float ACT_B = 0.0;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 0) const int BD0 = 1;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 1) const int BD1 = 1;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 2) const int BD2 = 1;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 3) const int BD3 = 1;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 4) const int BD4 = 1;
layout(constant_id = SPEC_MATMUL_BATCH_DIMS + 5) const int BD5 = 1;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 0) const int AS0 = 0;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 1) const int AS1 = 0;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 2) const int AS2 = 0;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 3) const int AS3 = 0;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 4) const int AS4 = 0;
layout(constant_id = SPEC_MATMUL_A_BATCH_STRIDES + 5) const int AS5 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 0) const int BS0 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 1) const int BS1 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 2) const int BS2 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 3) const int BS3 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 4) const int BS4 = 0;
layout(constant_id = SPEC_MATMUL_B_BATCH_STRIDES + 5) const int BS5 = 0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int n = int(i) % N;
  int m = (int(i) / N) % M;
  int rest = int(i) / (N * M);
  int bd[6] = int[6](BD0, BD1, BD2, BD3, BD4, BD5);
  int as_[6] = int[6](AS0, AS1, AS2, AS3, AS4, AS5);
  int bs[6] = int[6](BS0, BS1, BS2, BS3, BS4, BS5);
  int ao = m * A_SM, bo = n * B_SN;
  for (int d = 5; d >= 0; --d) {
    int k = rest % bd[d];
    rest /= bd[d];
    ao += k * as_[d];
    bo += k * bs[d];
  }
  float acc = 0.0;
  for (int k = 0; k < K; ++k) acc += float(a[ao + k * A_SK]) * float(b[bo + k * B_SK]);
  float v = ALPHA * acc;
  if (HAS_C != 0) v += BETA * float(c[m * C_SM + n * C_SN]);
  y[i] = STORE_T(activate(v, ACT, ACT_A, ACT_B));
}
