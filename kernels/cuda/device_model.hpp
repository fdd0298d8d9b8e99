#pragma once
// What the CUDA backend's cost models know of a GPU, and the tile sizes of
// the fused kernels: host-only (no CUDA headers), so that the planner's tests
// build and run on machines without a GPU.
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::cuda {

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
