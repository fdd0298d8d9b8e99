#version 450
#extension GL_GOOGLE_include_directive : enable
// MaxPool / AveragePool over 1-3 spatial axes (padded to 3), one output per thread.
layout(local_size_x = 64) in;
#include "common.glsl"
#include "spec_ids.h"
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(constant_id = SPEC_COUNT) const int COUNT = 1;  // planes * output plane
layout(constant_id = SPEC_POOL_IS_MAX) const int IS_MAX = 1;
layout(constant_id = SPEC_POOL_INCLUDE_PAD) const int INCLUDE_PAD = 0;
layout(constant_id = SPEC_POOL_IN + 0) const int ID = 1;
layout(constant_id = SPEC_POOL_IN + 1) const int IH = 1;
layout(constant_id = SPEC_POOL_IN + 2) const int IW = 1;
layout(constant_id = SPEC_POOL_OUT + 0) const int OD = 1;
layout(constant_id = SPEC_POOL_OUT + 1) const int OH = 1;
layout(constant_id = SPEC_POOL_OUT + 2) const int OW = 1;
layout(constant_id = SPEC_POOL_KERNEL + 0) const int KD = 1;
layout(constant_id = SPEC_POOL_KERNEL + 1) const int KH = 1;
layout(constant_id = SPEC_POOL_KERNEL + 2) const int KW = 1;
layout(constant_id = SPEC_POOL_STRIDE + 0) const int SD = 1;
layout(constant_id = SPEC_POOL_STRIDE + 1) const int SH = 1;
layout(constant_id = SPEC_POOL_STRIDE + 2) const int SW = 1;
layout(constant_id = SPEC_POOL_DILATION + 0) const int DD = 1;
layout(constant_id = SPEC_POOL_DILATION + 1) const int DH = 1;
layout(constant_id = SPEC_POOL_DILATION + 2) const int DW = 1;
layout(constant_id = SPEC_POOL_PAD_BEGIN + 0) const int PD = 0;
layout(constant_id = SPEC_POOL_PAD_BEGIN + 1) const int PH = 0;
layout(constant_id = SPEC_POOL_PAD_BEGIN + 2) const int PW = 0;
layout(constant_id = SPEC_POOL_PAD_END + 0) const int ED = 0;  // end pads
layout(constant_id = SPEC_POOL_PAD_END + 1) const int EH = 0;
layout(constant_id = SPEC_POOL_PAD_END + 2) const int EW = 0;

int padded_taps(int start, int k, int dil, int n, int pad_end) {
  int c = 0;
  for (int t = 0; t < k; ++t)
    if (start + t * dil < n + pad_end) ++c;
  return c;
}

void main() {
  uint i = flat_index();
  if (i >= uint(COUNT)) return;
  int r = int(i);
  int ow = r % OW; r /= OW;
  int oh = r % OH; r /= OH;
  int od = r % OD; r /= OD;
  int plane = r;
  int d0 = od * SD - PD, h0 = oh * SH - PH, w0 = ow * SW - PW;
  int base = plane * ID * IH * IW;
  float best = -1.0 / 0.0;
  float sum = 0.0;
  int valid = 0;
  for (int kd = 0; kd < KD; ++kd) {
    int zd = d0 + kd * DD;
    if (zd < 0 || zd >= ID) continue;
    for (int kh = 0; kh < KH; ++kh) {
      int zh = h0 + kh * DH;
      if (zh < 0 || zh >= IH) continue;
      for (int kw = 0; kw < KW; ++kw) {
        int zw = w0 + kw * DW;
        if (zw < 0 || zw >= IW) continue;
        float v = float(x[base + (zd * IH + zh) * IW + zw]);
        best = max(best, v);
        sum += v;
        ++valid;
      }
    }
  }
  float result;
  if (IS_MAX != 0) {
    result = best;
  } else {
    int count = valid;
    if (INCLUDE_PAD != 0)
      count = padded_taps(d0, KD, DD, ID, ED) * padded_taps(h0, KH, DH, IH, EH) * padded_taps(w0, KW, DW, IW, EW);
    result = count > 0 ? sum / float(count) : 0.0;
  }
  y[i] = STORE_T(result);
}
