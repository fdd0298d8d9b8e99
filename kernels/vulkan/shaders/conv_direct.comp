#version 450
#extension GL_GOOGLE_include_directive : enable
// Direct convolution: one output element per thread, any groups, dilations,
// pads and 1-3 spatial axes. The fallback every shape can use.
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
  int od = r % OD; r /= OD;
  int k = r % K;
  int n = r / K;
  int cg = C / GROUP, kg = K / GROUP;
  int g = k / kg;
  float acc = HAS_BIAS != 0 ? float(bias[k]) : 0.0;
  int d0 = od * SD - PD, h0 = oh * SH - PH, w0 = ow * SW - PW;
  for (int c = 0; c < cg; ++c) {
    int xb = (n * C + g * cg + c) * ID * IH * IW;
    int wb = (k * cg + c) * KD * KH * KW;
    for (int kd = 0; kd < KD; ++kd) {
      int zd = d0 + kd * DD;
      if (zd < 0 || zd >= ID) continue;
      for (int kh = 0; kh < KH; ++kh) {
        int zh = h0 + kh * DH;
        if (zh < 0 || zh >= IH) continue;
        for (int kw = 0; kw < KW; ++kw) {
          int zw = w0 + kw * DW;
          if (zw < 0 || zw >= IW) continue;
          acc += float(w[wb + (kd * KH + kh) * KW + kw]) * float(x[xb + (zd * IH + zh) * IW + zw]);
        }
      }
    }
  }
  if (HAS_RES != 0) acc += float(res[i]);
  y[i] = STORE_T(activate(acc, ACT, ACT_A, ACT_B));
}
