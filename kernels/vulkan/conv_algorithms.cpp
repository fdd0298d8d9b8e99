#include "kernels/vulkan/conv_algorithms.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kiln/error.hpp"

namespace kiln::vk {

namespace {

// Roofline: the slower of compute at `efficiency` of the device's peak and
// the compulsory traffic, plus a fixed launch cost.
double roofline(double flops, double bytes, double efficiency, const DeviceModel& m) {
  const double compute = flops / (m.gflops * 1e9 * std::max(efficiency, 1e-4));
  const double memory = bytes / (m.bandwidth_gbs * 1e9);
  return std::max(compute, memory) * 1e3 + m.launch_ms;
}

double traffic(const ConvGeometry& s, const DeviceModel& m) {
  return m.element_bytes * static_cast<double>(s.input_elems() + s.output_elems() + s.weight_elems());
}

// Fraction of a tiled GEMM's 64x64 tile (and 16-deep slice) doing useful work.
double tile_use(int64_t rows, int64_t cols, int64_t depth) {
  auto use = [](int64_t n, int64_t t) { return static_cast<double>(n) / static_cast<double>((n + t - 1) / t * t); };
  return use(rows, 64) * use(cols, 64) * use(depth, 16);
}

class Direct final : public ConvAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  ConvShader shader() const override { return ConvShader::Direct; }
  bool applicable(const ConvGeometry&) const override { return true; }
  double cost_ms(const ConvGeometry& s, const DeviceModel& m) const override {
    // Every output re-reads its whole window from memory: little reuse.
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.06, m);
  }
};

class Depthwise final : public ConvAlgorithm {
 public:
  const char* name() const override { return "depthwise"; }
  ConvShader shader() const override { return ConvShader::Depthwise; }
  bool applicable(const ConvGeometry& s) const override { return s.is_planar() && s.is_depthwise(); }
  double cost_ms(const ConvGeometry& s, const DeviceModel& m) const override {
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.15, m);
  }
};

class Gemm1x1 final : public ConvAlgorithm {
 public:
  const char* name() const override { return "gemm1x1"; }
  ConvShader shader() const override { return ConvShader::Gemm1x1; }
  bool applicable(const ConvGeometry& s) const override { return s.is_planar() && s.is_pointwise(); }
  double cost_ms(const ConvGeometry& s, const DeviceModel& m) const override {
    const int64_t P = int64_t{s.OH} * s.OW;
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.6 * tile_use(s.K / s.group, P, s.C / s.group), m);
  }
};

class ImplicitGemm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "implicit_gemm"; }
  ConvShader shader() const override { return ConvShader::ImplicitGemm; }
  bool applicable(const ConvGeometry& s) const override { return s.is_planar(); }
  double cost_ms(const ConvGeometry& s, const DeviceModel& m) const override {
    const int64_t P = int64_t{s.OH} * s.OW;
    const int64_t R = int64_t{s.C / s.group} * s.KH * s.KW;
    // Index arithmetic per gathered tap costs a little over gemm1x1.
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.45 * tile_use(s.K / s.group, P, R), m);
  }
};

}  // namespace

const std::vector<const ConvAlgorithm*>& conv_algorithms() {
  static const Gemm1x1 gemm1x1;
  static const Depthwise depthwise;
  static const ImplicitGemm implicit_gemm;
  static const Direct direct;
  static const std::vector<const ConvAlgorithm*> all = {&gemm1x1, &depthwise, &implicit_gemm, &direct};
  return all;
}

const ConvAlgorithm* find_conv_algorithm(const std::string& name) { return find_by_name(conv_algorithms(), name); }

std::vector<std::string> conv_algorithm_names() { return names_of(conv_algorithms(), {kFusedDwPw}); }

bool fused_applicable(const ConvGeometry& dw, const ConvGeometry& pw) {
  return dw.is_planar() && dw.is_depthwise() && pw.is_planar() && pw.is_pointwise_stride1() && pw.is_dense() &&
         pw.C == dw.K && pw.N == dw.N && pw.D == dw.OD && pw.H == dw.OH && pw.W == dw.OW;
}

double fused_cost_ms(const ConvGeometry& dw, const ConvGeometry& pw, const DeviceModel& m) {
  const int64_t P = int64_t{pw.OH} * pw.OW;
  // The depthwise values are recomputed for every 64-channel tile of the 1x1's outputs.
  const double tiles = static_cast<double>((pw.K + 63) / 64);
  const double pw_time = 2.0 * static_cast<double>(pw.macs()) / (0.6 * tile_use(pw.K, P, pw.C));
  const double dw_time = 2.0 * static_cast<double>(dw.macs()) * tiles / 0.15;
  const double bytes = m.element_bytes * static_cast<double>(dw.input_elems() + dw.weight_elems() + pw.weight_elems() + pw.output_elems());
  return std::max((pw_time + dw_time) / (m.gflops * 1e9), bytes / (m.bandwidth_gbs * 1e9)) * 1e3 + m.launch_ms;
}

ConvSelector::ConvSelector(const BackendOptions& options, const Context& ctx)
    : model_(ctx.model), signature_(ctx.signature) {
  if (options.gpu.fp16_storage) {
    // Half the traffic; and float16-storage timings are not float32 ones, so
    // tune keeps them under their own key.
    model_.element_bytes = 2;
    signature_ += " fp16-storage";
  }
  mode_ = options.selection;
  if (mode_.fixed()) {
    fixed_fused_ = mode_.fixed_name == kFusedDwPw;
    fixed_ = find_conv_algorithm(mode_.fixed_name);
  }
  // Key: device signature, shape, residual (3 fields, then the algorithm).
  if (mode_.tune()) cache_.emplace(TuningCache::path_for(options, "vulkan"), 3);
}

Selection ConvSelector::heuristic(const ConvGeometry& s) const {
  const auto best = cheapest(
      conv_algorithms(), [&](const ConvAlgorithm& a) { return a.applicable(s); },
      [&](const ConvAlgorithm& a) { return a.cost_ms(s, model_); });
  return {best.algorithm, best.ms, -1, "heuristic"};
}

Selection ConvSelector::choose(const ConvGeometry& s, bool residual, const Measure& measure) {
  if (mode_.fixed() && fixed_ && fixed_->applicable(s)) return {fixed_, fixed_->cost_ms(s, model_), -1, "fixed"};
  if (mode_.tune()) {
    const TuningCache::Key key{signature_, s.key(), residual ? "1" : "0"};
    if (const std::string* cached = cache_->find(key))
      if (const ConvAlgorithm* a = find_conv_algorithm(*cached); a && a->applicable(s))
        return {a, a->cost_ms(s, model_), -1, "tuning cache"};
    ++tuned_;
    std::string line;
    const auto best = cheapest(
        conv_algorithms(), [&](const ConvAlgorithm& a) { return a.applicable(s); },
        [&](const ConvAlgorithm& a) {
          const double ms = measure(a);
          line += fmt::format(" {} {:.3f} ms,", a.name(), ms);
          return ms;
        });
    // Every candidate's time goes into the node's detail, not onto stderr.
    if (!line.empty()) line.pop_back();
    cache_->record(key, best.algorithm->name(), best.ms);
    return {best.algorithm, best.algorithm->cost_ms(s, model_), best.ms, "tuned:" + line};
  }
  Selection h = heuristic(s);
  if (mode_.fixed()) h.how = fmt::format("heuristic ({} does not apply)", fixed_ ? fixed_->name() : kFusedDwPw);
  return h;
}

bool ConvSelector::fuse(const ConvGeometry& dw, const ConvGeometry& pw, double separate_ms, double* fused_ms) const {
  if (!fused_applicable(dw, pw)) return false;
  *fused_ms = fused_cost_ms(dw, pw, model_);
  if (mode_.fixed()) return fixed_fused_;
  return *fused_ms < separate_ms;
}

}  // namespace kiln::vk
