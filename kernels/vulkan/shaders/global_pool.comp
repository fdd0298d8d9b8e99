#version 450
#extension GL_GOOGLE_include_directive : enable
// GlobalAveragePool / GlobalMaxPool: one workgroup of 64 threads per (n, c) plane.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int PLANES = 1;
layout(constant_id = SPEC_GLOBAL_POOL_PLANE) const int PLANE = 1;
layout(constant_id = SPEC_GLOBAL_POOL_IS_MAX) const int IS_MAX = 0;
shared float part[64];
void main() {
  uint plane = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (plane >= uint(PLANES)) return;  // uniform per workgroup
  uint t = gl_LocalInvocationID.x;
  uint base = plane * uint(PLANE);
  float acc = IS_MAX != 0 ? -1.0 / 0.0 : 0.0;
  for (uint k = t; k < uint(PLANE); k += 64u) {
    float v = float(x[base + k]);
    acc = IS_MAX != 0 ? max(acc, v) : acc + v;
  }
  part[t] = acc;
  barrier();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s) part[t] = IS_MAX != 0 ? max(part[t], part[t + s]) : part[t] + part[t + s];
    barrier();
  }
  if (t == 0u) y[plane] = STORE_T(IS_MAX != 0 ? part[0] : part[0] / float(PLANE));
}
