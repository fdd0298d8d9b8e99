#pragma once
// Convolution algorithms of the CPU backend. Each is a registered
// implementation with an applicability test and a cost estimate; the backend
// picks one per layer (heuristic: lowest estimate; tune: fastest measured;
// fixed:NAME) and prepares it once (weights packed at session creation).
// Tensors are NHWC; weights arrive in ONNX order [K][C/group][KH][KW].
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/conv_geometry.hpp"
#include "kernels/cpu/simd/simd_kernels.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace kiln::cpu {

// What the machine can do, for the cost estimates.
struct MachineModel {
  double gflops_per_thread = 100;  // sustained FMA throughput of the chosen ISA
  double bandwidth_gbs = 20;       // streaming from L2/L3 per thread
  int threads = 1;
  double l2_bytes = 1 << 20;       // per core (sysfs; 1 MiB when unknown)
  // Integer kernels (int8_registry.cpp), multiply-adds per ns and thread.
  double int8_gemm_macs_per_ns = 50;   // u8×s8 GEMM
  double int16_gemm_macs_per_ns = 25;  // int16 GEMM of Winograd/SFC
  double int8_dw_macs_per_ns = 10;     // depthwise
  double int16_weight_gbs = 40;        // transformed weights streamed by the int16 GEMM
};

struct ConvRun {
  const float* x;         // [N][H][W][C]
  float* y;               // [N][OH][OW][K]
  const float* residual;  // like y, added before the activation; or null
  float* workspace;       // workspace_bytes() of scratch
  ThreadPool* pool;
};

// A layer prepared for one algorithm: packed weights and the run function.
class ConvKernel {
 public:
  virtual ~ConvKernel() = default;
  virtual size_t workspace_bytes() const { return 0; }
  // Bytes of weights the kernel holds (its packed or transformed copies).
  virtual size_t weight_bytes() const = 0;
  virtual void run(const ConvRun& r) const = 0;
  // Extra facts for `kiln inspect`, e.g. im2win's workspace beside im2col's.
  virtual std::string detail() const { return {}; }
};

struct ConvLayer {
  ConvGeometry shape;
  const float* weights;  // ONNX order [K][C/group][KH][KW]
  const float* bias;     // [K] or null
  Activation act;
  const SimdKernels* simd;
  int threads = 1;
  // Threads for preparing the weights, or null: valid only while prepare()
  // runs (session creation); kernels must not keep using it.
  ThreadPool* prepare_pool = nullptr;
};

class ConvAlgorithm {
 public:
  virtual ~ConvAlgorithm() = default;
  virtual const char* name() const = 0;
  virtual bool applicable(const ConvGeometry& s) const = 0;
  // Estimated milliseconds per run; only compared between algorithms.
  virtual double cost_ms(const ConvGeometry& s, const MachineModel& m) const = 0;
  virtual std::unique_ptr<ConvKernel> prepare(const ConvLayer& layer) const = 0;
  // Whether run() honours ConvRun::residual (a following Add fused in).
  virtual bool fuses_residual() const { return true; }
};

// Every algorithm, in a fixed order (ties in the cost go to the earlier one).
const std::vector<const ConvAlgorithm*>& conv_algorithms();
const ConvAlgorithm* find_conv_algorithm(const std::string& name);

}  // namespace kiln::cpu
