#version 450
#extension GL_GOOGLE_include_directive : enable
// Tiled GEMM convolution for 2-D layers (D == 1). Per (image, group) the output
// is a [Kg x OH*OW] matrix = W [Kg x R] * X [R x OH*OW]; a workgroup of 16x16
// threads computes a 64x64 tile, each thread 4x4 outputs, with 16-deep slices
// of W and X staged in shared memory. MODE picks how X's elements are made:
//   CONV_GEMM_IMPLICIT: R = Cg*KH*KW, X(r, p) is the input tap (zero in the pads);
//   CONV_GEMM_1X1 (pointwise, no pads, any stride): R = Cg, X(r, p) is one input pixel;
//   CONV_GEMM_DW_PW, fused depthwise + pointwise: this layer is the 1x1 (stride 1, group 1)
//     after a depthwise layer whose geometry the constants describe; X(r, p) is
//     that depthwise output, computed on the fly, so it never reaches memory.
layout(local_size_x = 256) in;
#include "common.glsl"
#include "spec_ids.h"
#include "conv_params.glsl"
layout(constant_id = SPEC_CONV_GEMM_MODE) const int MODE = CONV_GEMM_IMPLICIT;
layout(constant_id = SPEC_CONV_GEMM_KOUT) const int KOUT = 1;  // output channels (mode 2: of the pointwise layer)
layout(constant_id = SPEC_CONV_DW_ACT_KIND) const int DW_ACT = 0;
layout(constant_id = SPEC_CONV_DW_ACT_ALPHA) const float DW_A = 0.0;
layout(constant_id = SPEC_CONV_DW_ACT_BETA) const float DW_B = 0.0;
layout(constant_id = SPEC_CONV_DW_HAS_BIAS) const int DW_HAS_BIAS = 0;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 2) readonly buffer Wt { STORE_T w[]; };
layout(std430, binding = 3) readonly buffer Bs { STORE_T bias[]; };
layout(std430, binding = 4) readonly buffer Rs { STORE_T res[]; };
layout(std430, binding = 5) readonly buffer DWt { STORE_T dw_w[]; };
layout(std430, binding = 6) readonly buffer DBs { STORE_T dw_bias[]; };

const int TM = 64, TN = 64, TR = 16;
shared float Ws[TR][TM];
shared float Xs[TR][TN + 1];

float x_value(int n, int g, int r, int p) {
  int cg = C / GROUP;
  int oh = p / OW, ow = p % OW;
  if (MODE == CONV_GEMM_1X1) {
    return float(x[((n * C + g * cg + r) * IH + oh * SH) * IW + ow * SW]);
  }
  if (MODE == CONV_GEMM_DW_PW) {
    int h0 = oh * SH - PH, w0 = ow * SW - PW;
    int xb = (n * C + r) * IH * IW;
    float acc = DW_HAS_BIAS != 0 ? float(dw_bias[r]) : 0.0;
    for (int kh = 0; kh < KH; ++kh) {
      int zh = h0 + kh * DH;
      if (zh < 0 || zh >= IH) continue;
      for (int kw = 0; kw < KW; ++kw) {
        int zw = w0 + kw * DW;
        if (zw < 0 || zw >= IW) continue;
        acc += float(dw_w[r * KH * KW + kh * KW + kw]) * float(x[xb + zh * IW + zw]);
      }
    }
    return activate(acc, DW_ACT, DW_A, DW_B);
  }
  int taps = KH * KW;
  int c = r / taps, t = r % taps;
  int ih = oh * SH - PH + (t / KW) * DH;
  int iw = ow * SW - PW + (t % KW) * DW;
  if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) return 0.0;
  return float(x[((n * C + g * cg + c) * IH + ih) * IW + iw]);
}

void main() {
  int cg = C / GROUP;
  int kg = KOUT / GROUP;
  int R = MODE == CONV_GEMM_IMPLICIT ? cg * KH * KW : cg;
  int P = OH * OW;
  int lid = int(gl_LocalInvocationID.x);
  int tx = lid % 16, ty = lid / 16;
  int p0 = int(gl_WorkGroupID.x) * TN;
  int m0 = int(gl_WorkGroupID.y) * TM;
  int n = int(gl_WorkGroupID.z) / GROUP, g = int(gl_WorkGroupID.z) % GROUP;

  float acc[4][4];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) acc[a][b] = 0.0;

  for (int r0 = 0; r0 < R; r0 += TR) {
    for (int q = 0; q < 4; ++q) {
      int e = lid + 256 * q;
      // W slice: r fastest (weights are [K][R] row-major).
      int wr = e % TR, wm = e / TR;
      int mm = m0 + wm, rr = r0 + wr;
      Ws[wr][wm] = (mm < kg && rr < R) ? float(w[(g * kg + mm) * R + rr]) : 0.0;
      // X slice: pixels fastest.
      int xp = e % TN, xr = e / TN;
      int pp = p0 + xp, rx = r0 + xr;
      Xs[xr][xp] = (pp < P && rx < R) ? x_value(n, g, rx, pp) : 0.0;
    }
    barrier();
    for (int r = 0; r < TR; ++r) {
      float av[4], bv[4];
      for (int a = 0; a < 4; ++a) av[a] = Ws[r][ty + 16 * a];
      for (int b = 0; b < 4; ++b) bv[b] = Xs[r][tx + 16 * b];
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) acc[a][b] += av[a] * bv[b];
    }
    barrier();
  }

  for (int a = 0; a < 4; ++a) {
    int m = m0 + ty + 16 * a;
    if (m >= kg) continue;
    int k = g * kg + m;
    float bk = HAS_BIAS != 0 ? float(bias[k]) : 0.0;
    for (int b = 0; b < 4; ++b) {
      int p = p0 + tx + 16 * b;
      if (p >= P) continue;
      int o = (n * KOUT + k) * P + p;
      float v = acc[a][b] + bk;
      if (HAS_RES != 0) v += float(res[o]);
      y[o] = STORE_T(activate(v, ACT, ACT_A, ACT_B));
    }
  }
}
