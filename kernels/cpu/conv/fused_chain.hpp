#pragma once
// Fused depthwise chains (the FCM idea on a CPU): an optional 1×1 "expand"
// convolution, a depthwise convolution and an optional 1×1 "project"
// convolution run row by row, so the wide intermediate tensors between them
// live only in a few rows of cache-resident scratch instead of travelling
// through memory. Each thread streams a horizontal band of the output; the
// expand rows a band needs are kept in a ring of (KH-1)·dh+1 rows, and only
// the rows a band shares with its neighbour are computed twice.
#include <memory>
#include <optional>

#include "kernels/cpu/conv/conv_algorithm.hpp"

namespace kiln::cpu {

struct ChainLayers {
  std::optional<ConvLayer> expand;   // 1×1, stride 1, group 1, no padding
  ConvLayer depthwise;               // group == C == K
  std::optional<ConvLayer> project;  // 1×1, stride 1, group 1, no padding
};

// Whether these layers can form a chain (shapes line up, kinds as above).
bool chain_applicable(const ChainLayers& c);

// Estimated ms of running the layers separately (each with `separate_ms` of
// compute, plus writing and re-reading the intermediates) and fused.
struct ChainCost {
  double separate_ms = 0, fused_ms = 0, intermediate_bytes = 0;
};
ChainCost chain_cost(const ChainLayers& c, double separate_compute_ms, const MachineModel& m);

// The prepared chain; ConvRun::residual applies to the last layer's output.
std::unique_ptr<ConvKernel> prepare_chain(const ChainLayers& c);

}  // namespace kiln::cpu
