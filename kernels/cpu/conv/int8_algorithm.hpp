#pragma once
// The quantized convolution algorithms of the CPU backend, registered like the
// float ones (conv_algorithm.hpp): each says where it applies, estimates its
// cost and prepares a QConvKernel once at session creation. Every one gives
// the same bits (the integer accumulator is exact in all of them), so the
// choice is about time only; ConvSelector::choose_q picks one per layer.
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/int8_conv.hpp"

namespace kiln::cpu {

class QConvAlgorithm {
 public:
  virtual ~QConvAlgorithm() = default;
  virtual const char* name() const = 0;
  virtual bool applicable(const ConvGeometry& s) const = 0;
  // Estimated milliseconds per run; only compared between algorithms.
  virtual double cost_ms(const ConvGeometry& s, const MachineModel& m) const = 0;
  virtual std::unique_ptr<QConvKernel> prepare(const QConvLayer& layer) const = 0;
  // Whether its kernels take QConvLayer::residual (a following Add fused in).
  virtual bool fuses_residual() const { return false; }
};

// depthwise, im2col (also the 1×1 GEMM), winograd (F(2×2,3×3)), sfc (SFC-6, 6×6 outputs), in that order.
const std::vector<const QConvAlgorithm*>& qconv_algorithms();
const QConvAlgorithm* find_qconv_algorithm(const std::string& name);

// The two forms of int8_conv.cpp, for the registry.
std::unique_ptr<QConvKernel> prepare_qdepthwise(const QConvLayer& layer);
std::unique_ptr<QConvKernel> prepare_qgemm(const QConvLayer& layer);

// The fast 3×3 stride-1 convolutions (int8_fast_conv.cpp) and their 1-D transforms.
const FastTransform1D& winograd_f23_transform();
const FastTransform1D& sfc6_transform();
bool fast_conv_applicable(const ConvGeometry& s);
// How a fast convolution splits a layer: tiles, tiles per task (block),
// panels of 64 output channels and how many tasks share a block's panels.
// The kernel runs it and the cost estimate reads it.
struct FastConvPlan {
  int tiles_h = 0, tiles_w = 0;
  int64_t tiles = 0, blocks = 0;
  int tile_block = 1, panels = 1, panel_groups = 1;
  double weight_bytes = 0;  // the transformed weights, streamed once per block
};
FastConvPlan fast_conv_plan(const ConvGeometry& s, const FastTransform1D& t, int threads);
std::unique_ptr<QConvKernel> prepare_qfast(const QConvLayer& layer, const FastTransform1D& t, const char* name);

}  // namespace kiln::cpu
