#pragma once
// Convolution algorithms of the Vulkan backend, each with an applicability
// test and a roofline cost estimate from the device model, and the selection
// modes the CPU backend has: heuristic (lowest estimate), tune (time the
// candidates on the device with timestamp queries; the winner is cached in a
// TSV file keyed by device and layer shape) and fixed:NAME.
//
//   direct         conv_direct.comp, one output per thread: any shape (1-3-D, groups, dilation)
//   depthwise      conv_depthwise.comp: 2-D, group == C == K
//   gemm1x1        conv_gemm.comp MODE 1: 2-D 1x1 without pads (any stride, groups)
//   implicit_gemm  conv_gemm.comp MODE 0: 2-D, tiled 64x64 GEMM over Cg*KH*KW
//   dw_pw_fused    conv_gemm.comp MODE 2: a depthwise layer and the 1x1 layer reading it, in one
//                  dispatch; the depthwise output is made in shared memory and never stored
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/conv_geometry.hpp"
#include "engine/runtime/algorithm_selection.hpp"
#include "engine/runtime/backend.hpp"
#include "kernels/vulkan/context.hpp"

namespace kiln::vk {

enum class ConvShader { Direct, Depthwise, Gemm1x1, ImplicitGemm };

class ConvAlgorithm {
 public:
  virtual ~ConvAlgorithm() = default;
  virtual const char* name() const = 0;
  virtual ConvShader shader() const = 0;
  virtual bool applicable(const ConvGeometry& s) const = 0;
  // Estimated milliseconds per run; only compared between algorithms.
  virtual double cost_ms(const ConvGeometry& s, const DeviceModel& m) const = 0;
};

// Every single-layer algorithm, in a fixed order (ties go to the earlier one).
const std::vector<const ConvAlgorithm*>& conv_algorithms();
const ConvAlgorithm* find_conv_algorithm(const std::string& name);
// The pair algorithm's name, and every name fixed:NAME accepts.
inline constexpr const char* kFusedDwPw = "dw_pw_fused";
std::vector<std::string> conv_algorithm_names();

// Whether a depthwise layer `dw` and the 1x1 layer `pw` reading its output can run fused.
bool fused_applicable(const ConvGeometry& dw, const ConvGeometry& pw);
double fused_cost_ms(const ConvGeometry& dw, const ConvGeometry& pw, const DeviceModel& m);

using Selection = kiln::Selection<ConvAlgorithm>;

class ConvSelector {
 public:
  // Times one candidate on the device (milliseconds), for tune.
  using Measure = std::function<double(const ConvAlgorithm&)>;

  ConvSelector(const BackendOptions& options, const Context& ctx);
  Selection choose(const ConvGeometry& s, bool residual, const Measure& measure);
  // Whether to fuse dw + pw: fixed:dw_pw_fused fuses wherever it applies,
  // other fixed modes never, heuristic and tune when the estimate beats
  // `separate_ms` (the two layers' own estimates).
  bool fuse(const ConvGeometry& dw, const ConvGeometry& pw, double separate_ms, double* fused_ms) const;
  const DeviceModel& model() const { return model_; }
  // The lowest estimate over the applicable algorithms.
  double heuristic_ms(const ConvGeometry& s) const { return heuristic(s).estimated_ms; }

 private:
  Selection heuristic(const ConvGeometry& s) const;

  SelectionMode mode_;
  const ConvAlgorithm* fixed_ = nullptr;  // null for fixed:dw_pw_fused
  bool fixed_fused_ = false;
  DeviceModel model_;
  std::string signature_;
  std::optional<TuningCache> cache_;  // tune only
  int tuned_ = 0;
};

}  // namespace kiln::vk
