#pragma once
// Host-only descriptions shared by the CUDA backend's convolution algorithms,
// its FusePlanner-style cost model and their tests (no CUDA headers, so the
// planner's tests build and run on machines without a GPU).
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::cuda {

// One convolution, NC(D)HW: 2-D ones have D = OD = KD = 1, 1-D ones also
// H = OH = KH = 1. The depth fields (D, OD, KD, sd, dd, pf, pk) matter only
// for 3-D convolutions (spatial3d), which only the direct algorithm runs; the
// element counts include them so that 3-D layers upload all their weights and
// the tuner sizes its buffers for the whole volume.
struct ConvShape {
  int N = 1, C = 1, H = 1, W = 1;  // input
  int K = 1, OH = 1, OW = 1;       // output
  int KH = 1, KW = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
  int group = 1;
  bool spatial3d = false;  // a 3-D convolution: only the direct algorithm runs it
  int D = 1, OD = 1, KD = 1, sd = 1, dd = 1, pf = 0, pk = 0;  // depth: input, output, kernel, stride, dilation, pads

  int cin_per_group() const { return C / group; }
  int cout_per_group() const { return K / group; }
  bool depthwise() const { return group == C && cin_per_group() == 1 && !spatial3d; }
  bool pointwise() const {
    return KH == 1 && KW == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0 && group == 1 &&
           !spatial3d;
  }
  int64_t macs() const {
    return int64_t{N} * OD * OH * OW * K * static_cast<int64_t>(cin_per_group()) * KD * KH * KW;
  }
  int64_t input_elems() const { return int64_t{N} * C * D * H * W; }
  int64_t output_elems() const { return int64_t{N} * K * OD * OH * OW; }
  int64_t weight_elems() const { return int64_t{K} * cin_per_group() * KD * KH * KW; }
  // "N1 C32 H112 W112 K32 k3x3 s1x1 d1x1 p1,1,1,1 g32": the tuning-cache key;
  // 3-D shapes append their depth ("... g2 3d D6 kd3 sd1 dd1 pd1,1").
  std::string key() const;
};

// What the cost models know of a GPU: read from cudaDeviceProp at session
// creation (SM count, shared memory, memory clock and bus), or given by tests.
struct DeviceModel {
  std::string name = "unknown";
  int sm_count = 132;
  size_t smem_per_block = 48 * 1024;  // without opting in to more
  size_t smem_per_sm = 228 * 1024;
  int max_threads_per_sm = 2048;
  double bandwidth_gbs = 3000;  // global memory
  double fp32_gflops = 50000;   // FMA peak of the CUDA cores
  double launch_us = 1.5;       // per kernel node in a replayed CUDA graph
};
// The H100 SXM as the planner sees it (tests and documentation).
DeviceModel h100_model();

// Tile sizes of the fused kernels (fcm.cu).
struct FcmDwPwTile {
  int tile_p = 64, tile_k = 32;  // output pixels x output channels per block
};
struct FcmPwDwTile {
  int tile_h = 8, tile_w = 8, tile_m = 16;  // output rows x columns x channels per block
};

}  // namespace kiln::cuda
