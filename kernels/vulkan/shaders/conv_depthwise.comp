#version 450
#extension GL_GOOGLE_include_directive : enable
// Depthwise 2-D convolution (group == C == K): one output per thread; the
// KHxKW taps are specialization constants, so the loops unroll.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "conv_params.glsl"
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 2) readonly buffer Wt { STORE_T w[]; };
layout(std430, binding = 3) readonly buffer Bs { STORE_T bias[]; };
layout(std430, binding = 4) readonly buffer R { STORE_T res[]; };
void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int r = int(i);
  int ow = r % OW; r /= OW;
  int oh = r % OH; r /= OH;
  int plane = r;  // n * C + c
  int c = plane % C;
  int h0 = oh * SH - PH, w0 = ow * SW - PW;
  int xb = plane * IH * IW;
  int wb = c * KH * KW;
  float acc = HAS_BIAS != 0 ? float(bias[c]) : 0.0;
  for (int kh = 0; kh < KH; ++kh) {
    int zh = h0 + kh * DH;
    if (zh < 0 || zh >= IH) continue;
    for (int kw = 0; kw < KW; ++kw) {
      int zw = w0 + kw * DW;
      if (zw < 0 || zw >= IW) continue;
      acc += float(w[wb + kh * KW + kw]) * float(x[xb + zh * IW + zw]);
    }
  }
  if (HAS_RES != 0) acc += float(res[i]);
  y[i] = STORE_T(activate(acc, ACT, ACT_A, ACT_B));
}
