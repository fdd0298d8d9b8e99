#pragma once
// Convolution algorithms of the CUDA backend, mirroring kernels/cpu/conv:
// each is registered with an applicability test and a cost estimate; the
// backend picks one per layer (heuristic: lowest estimate; tune: fastest
// measured with CUDA events, cached per device and shape; fixed:NAME) and
// prepares it once at session creation (weights rearranged and uploaded).
// Tensors are NCHW; weights arrive in ONNX order [K][C/group][KH][KW].
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime/algorithm_selection.hpp"
#include "engine/runtime/backend.hpp"
#include "kernels/cuda/context.hpp"
#include "kernels/cuda/launch.hpp"

namespace kiln::cuda {

struct ConvLayer {
  ConvGeometry shape;
  const float* weights;  // host, ONNX order
  const float* bias;     // host [K] or null
  Act act;
};

struct ConvIo {
  const float* x;
  float* y;
  void* workspace;  // workspace_bytes() of device scratch
  cudaStream_t stream;
};

// A layer prepared for one algorithm.
class ConvKernel {
 public:
  virtual ~ConvKernel() = default;
  virtual size_t workspace_bytes() const { return 0; }
  // Enqueues the convolution on io.stream (capturable: no sync, no allocation).
  virtual void run(const ConvIo& io) const = 0;
  virtual std::string detail() const { return {}; }
};

class ConvAlgorithm {
 public:
  virtual ~ConvAlgorithm() = default;
  virtual const char* name() const = 0;
  virtual bool applicable(const ConvGeometry& s) const = 0;
  // Estimated milliseconds per run; only compared between algorithms.
  virtual double cost_ms(const ConvGeometry& s, const DeviceModel& d) const = 0;
  virtual std::unique_ptr<ConvKernel> prepare(const ConvLayer& layer, GpuContext& ctx, WeightStore& store) const = 0;
};

// Every single-layer algorithm, in a fixed order (ties go to the earlier one).
const std::vector<const ConvAlgorithm*>& conv_algorithms();
const ConvAlgorithm* find_conv_algorithm(const std::string& name);
// The fused-pair algorithms (fcm_dw_pw, fcm_pw_dw), planned by fuse_planner.
inline const char* const kFcmDwPw = "fcm_dw_pw";
inline const char* const kFcmPwDw = "fcm_pw_dw";
// Every name fixed:NAME accepts.
std::vector<std::string> conv_algorithm_names();

using Selection = kiln::Selection<ConvAlgorithm>;

class ConvSelector {
 public:
  ConvSelector(const BackendOptions& options, GpuContext& ctx);
  Selection choose(const ConvLayer& layer);
  bool fixed_mode() const { return mode_.fixed(); }
  // In fixed mode: the fixed name (single or fused algorithm); else "".
  const std::string& fixed_name() const { return mode_.fixed_name; }

 private:
  Selection heuristic(const ConvGeometry& s) const;
  Selection tune(const ConvLayer& layer);

  SelectionMode mode_;
  GpuContext& ctx_;
  const ConvAlgorithm* fixed_ = nullptr;  // null for the fused fcm_* names
  std::optional<TuningCache> cache_;      // tune only
};

}  // namespace kiln::cuda
