#pragma once
// Host-only descriptions shared by the CUDA backend's convolution algorithms,
// its FusePlanner-style cost model and their tests (no CUDA headers, so the
// planner's tests build and run on machines without a GPU).
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::cuda {

// One 2-D convolution (1-D convolutions have H = OH = KH = 1), NCHW.
struct ConvShape {
  int N = 1, C = 1, H = 1, W = 1;  // input
  int K = 1, OH = 1, OW = 1;       // output
  int KH = 1, KW = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
  int group = 1;
  bool spatial3d = false;  // a 3-D convolution: only the direct algorithm runs it

  int cin_per_group() const { return C / group; }
  int cout_per_group() const { return K / group; }
  bool depthwise() const { return group == C && cin_per_group() == 1 && !spatial3d; }
  bool pointwise() const {
    return KH == 1 && KW == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0 && group == 1 &&
           !spatial3d;
  }
  int64_t macs() const { return int64_t{N} * OH * OW * K * static_cast<int64_t>(cin_per_group()) * KH * KW; }
  int64_t input_elems() const { return int64_t{N} * C * H * W; }
  int64_t output_elems() const { return int64_t{N} * K * OH * OW; }
  int64_t weight_elems() const { return int64_t{K} * cin_per_group() * KH * KW; }
  // "N1 C32 H112 W112 K32 k3x3 s1x1 d1x1 p1,1,1,1 g32": the tuning-cache key.
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
