#version 450
#extension GL_GOOGLE_include_directive : enable
// Softmax over N elements at stride INNER; one thread per (outer, inner) row.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int ROWS = 1;  // outer * inner
layout(constant_id = SPEC_SOFTMAX_LEN) const int N = 1;
layout(constant_id = SPEC_SOFTMAX_INNER) const int INNER = 1;
void main() {
  uint r = flat_index();
  if (r >= uint(ROWS)) return;
  int o = int(r) / INNER, in_ = int(r) % INNER;
  int base = o * N * INNER + in_;
  float mx = -1.0 / 0.0;
  for (int k = 0; k < N; ++k) mx = max(mx, float(x[base + k * INNER]));
  float sum = 0.0;
  for (int k = 0; k < N; ++k) sum += exp(float(x[base + k * INNER]) - mx);
  float inv = 1.0 / sum;
  for (int k = 0; k < N; ++k) y[base + k * INNER] = STORE_T(exp(float(x[base + k * INNER]) - mx) * inv);
}
