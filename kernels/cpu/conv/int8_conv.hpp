#pragma once
// Quantized convolutions of the CPU backend: uint8 NHWC activations, weights
// packed once at session creation, the integer kernels of simd/int8_kernels
// (bit-identical on every ISA level and thread count). Three forms: depthwise,
// 1×1 stride 1 (a GEMM straight on the input) and any other (im2col into the
// workspace, then the same GEMM), each group on its own.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/core/conv_geometry.hpp"
#include "engine/core/graph.hpp"
#include "kernels/cpu/simd/int8_kernels.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace kiln::cpu {

struct QConvLayer {
  ConvGeometry shape;
  const TensorInfo* x = nullptr;     // uint8 activations
  const TensorInfo* w = nullptr;     // uint8/int8 constant
  // w is [C][K] (a Gemm's or MatMul's untransposed B) instead of the
  // convolution's [K][C/group][KH][KW]; 1×1 dense layers only.
  bool w_in_by_out = false;
  const TensorInfo* bias = nullptr;  // int32 constant, or null
  const TensorInfo* y = nullptr;     // uint8
  fb::FusedActivation act;
  // A following Add taken into the epilogue (see QConvKernel::run_residual):
  // its parameters with the convolution's output as operand a, or nullopt.
  std::optional<QAddParams> residual;
  const Int8Kernels* kernels = nullptr;
  int threads = 1;
};

class QConvKernel {
 public:
  virtual ~QConvKernel() = default;
  virtual void run(const uint8_t* x, uint8_t* y, void* workspace, ThreadPool& pool) const = 0;
  // Kernels prepared with QConvLayer::residual: y = the Add of this
  // convolution's output and `residual` (same shape as y, NHWC).
  virtual bool fuses_residual() const { return false; }
  virtual void run_residual(const uint8_t* x, const uint8_t* residual, uint8_t* y, void* workspace,
                            ThreadPool& pool) const;
  virtual size_t workspace_bytes() const { return 0; }
  virtual size_t weight_bytes() const = 0;
  virtual std::string detail() const = 0;  // "int8 depthwise", "int8 gemm", ...
};

// Whether the CPU's integer kernels take this layer (2-D, uint8 in and out).
bool qconv_supported(const QConvLayer& layer);

}  // namespace kiln::cpu
