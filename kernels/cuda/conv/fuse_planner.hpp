#pragma once
// FusePlanner-style cost model for the FCM fused kernels (fcm.cu): for a
// depthwise convolution and its pointwise neighbour it estimates the
// global-memory traffic and compute of running them separately and fused, for
// every tile size the kernels offer that fits the device's shared memory, and
// says whether to fuse and with which tile. Pure host code.
#include <string>
#include <vector>

#include "engine/core/conv_geometry.hpp"
#include "kernels/cuda/device_model.hpp"

namespace kiln::cuda {

struct FusionCost {
  double bytes = 0;   // global-memory traffic
  double flops = 0;
  double blocks = 0;  // thread blocks of the (main) kernel
  double ms = 0;      // estimated time
};

// Whether and how to fuse one pair, with the tile type of its kernel.
template <class Tile>
struct FusionPlan {
  bool applicable = false;
  bool fuse = false;
  Tile tile;
  FusionCost fused, separate;
  size_t smem_bytes = 0;
  std::string why;  // one line for `kiln inspect`/bench details
};
using DwPwPlan = FusionPlan<FcmDwPwTile>;
using PwDwPlan = FusionPlan<FcmPwDwTile>;

// Depthwise (multiplier 1, 2-D) whose output is read only by a 1x1 convolution.
bool dw_pw_applicable(const ConvGeometry& dw, const ConvGeometry& pw);
// 1x1 convolution whose output is read only by a depthwise convolution.
bool pw_dw_applicable(const ConvGeometry& pw, const ConvGeometry& dw);

// The tiles fcm.cu instantiates for dw->pw.
const std::vector<FcmDwPwTile>& fcm_dw_pw_tiles();
// Shared memory of the kernels for a tile.
size_t dw_pw_smem_bytes(const FcmDwPwTile& t);
size_t pw_dw_smem_bytes(const FcmPwDwTile& t, const ConvGeometry& dw);
// Pointwise values a pw->dw block holds (tile_m x halo pixels); the kernel
// allows at most kPwDwMaxValues.
int pw_dw_values(const FcmPwDwTile& t, const ConvGeometry& dw);
inline constexpr int kPwDwMaxValues = 8 * 256;

// Plans; with `force` the best tile is chosen even when fusing does not pay
// (fixed:fcm_* mode).
DwPwPlan plan_dw_pw(const ConvGeometry& dw, const ConvGeometry& pw, const DeviceModel& d);
PwDwPlan plan_pw_dw(const ConvGeometry& pw, const ConvGeometry& dw, const DeviceModel& d);

// Fraction of the GPU a grid of `blocks` keeps busy, with `per_sm` blocks
// resident per SM: full waves count fully, a last partial wave only in part.
double wave_efficiency(double blocks, int per_sm, int sm_count);

}  // namespace kiln::cuda
