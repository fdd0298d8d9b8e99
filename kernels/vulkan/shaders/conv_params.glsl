#include "spec_ids.h"
// Convolution geometry shared by the conv shaders (Window3d order: D, H, W).
layout(constant_id = SPEC_COUNT) const int COUNT = 1;  // output elements (direct/depthwise)
layout(constant_id = SPEC_CONV_N) const int N = 1;
layout(constant_id = SPEC_CONV_C) const int C = 1;
layout(constant_id = SPEC_CONV_K) const int K = 1;
layout(constant_id = SPEC_CONV_GROUP) const int GROUP = 1;
layout(constant_id = SPEC_CONV_IN + 0) const int ID = 1;
layout(constant_id = SPEC_CONV_IN + 1) const int IH = 1;
layout(constant_id = SPEC_CONV_IN + 2) const int IW = 1;
layout(constant_id = SPEC_CONV_OUT + 0) const int OD = 1;
layout(constant_id = SPEC_CONV_OUT + 1) const int OH = 1;
layout(constant_id = SPEC_CONV_OUT + 2) const int OW = 1;
layout(constant_id = SPEC_CONV_KERNEL + 0) const int KD = 1;
layout(constant_id = SPEC_CONV_KERNEL + 1) const int KH = 1;
layout(constant_id = SPEC_CONV_KERNEL + 2) const int KW = 1;
layout(constant_id = SPEC_CONV_STRIDE + 0) const int SD = 1;
layout(constant_id = SPEC_CONV_STRIDE + 1) const int SH = 1;
layout(constant_id = SPEC_CONV_STRIDE + 2) const int SW = 1;
layout(constant_id = SPEC_CONV_DILATION + 0) const int DD = 1;
layout(constant_id = SPEC_CONV_DILATION + 1) const int DH = 1;
layout(constant_id = SPEC_CONV_DILATION + 2) const int DW = 1;
layout(constant_id = SPEC_CONV_PAD + 0) const int PD = 0;
layout(constant_id = SPEC_CONV_PAD + 1) const int PH = 0;
layout(constant_id = SPEC_CONV_PAD + 2) const int PW = 0;
layout(constant_id = SPEC_CONV_HAS_BIAS) const int HAS_BIAS = 0;
layout(constant_id = SPEC_CONV_HAS_RESIDUAL) const int HAS_RES = 0;
layout(constant_id = SPEC_CONV_ACT_KIND) const int ACT = 0;
layout(constant_id = SPEC_CONV_ACT_ALPHA) const float ACT_A = 0.0;
layout(constant_id = SPEC_CONV_ACT_BETA) const float ACT_B = 0.0;
