#version 450
#extension GL_GOOGLE_include_directive : enable
// Standalone activation: y[i] = act(x[i]); y may alias x.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;
layout(constant_id = SPEC_ACT_KIND) const int ACT = 0;
layout(constant_id = SPEC_ACT_ALPHA) const float ALPHA = 0.0;
layout(constant_id = SPEC_ACT_BETA) const float BETA = 0.0;
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  y[i] = STORE_T(activate(float(x[i]), ACT, ALPHA, BETA));
}
