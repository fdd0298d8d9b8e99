#version 450
#extension GL_GOOGLE_include_directive : enable
// BatchNormalization (inference): y = (x - mean) * scale / sqrt(var + eps) + bias.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 2) readonly buffer S { STORE_T scale[]; };
layout(std430, binding = 3) readonly buffer B { STORE_T bias[]; };
layout(std430, binding = 4) readonly buffer M { STORE_T mean[]; };
layout(std430, binding = 5) readonly buffer V { STORE_T var[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_BN_CHANNELS) const int C = 1;
layout(constant_id = SPEC_BN_INNER) const int INNER = 1;
layout(constant_id = SPEC_BN_EPSILON) const float EPS = 1e-5;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int c = (int(i) / INNER) % C;
  float s = float(scale[c]) / sqrt(float(var[c]) + EPS);
  y[i] = STORE_T((float(x[i]) - float(mean[c])) * s + float(bias[c]));
}
