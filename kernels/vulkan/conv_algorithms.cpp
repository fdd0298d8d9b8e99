#include "kernels/vulkan/conv_algorithms.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln::vk {

bool ConvShape::pointwise() const {
  for (int a = 0; a < 3; ++a)
    if (kernel[a] != 1 || pad_begin[a] != 0 || pad_end[a] != 0) return false;
  return true;
}

int64_t ConvShape::macs() const {
  return output_elems() * (C / group) * kernel[0] * kernel[1] * kernel[2];
}

std::string ConvShape::key() const {
  return fmt::format("N{} C{} K{} in{}x{}x{} k{}x{}x{} s{}x{}x{} d{}x{}x{} p{},{},{}/{},{},{} g{}", N, C, K, in[0], in[1],
                     in[2], kernel[0], kernel[1], kernel[2], stride[0], stride[1], stride[2], dilation[0], dilation[1],
                     dilation[2], pad_begin[0], pad_begin[1], pad_begin[2], pad_end[0], pad_end[1], pad_end[2], group);
}

namespace {

// Roofline: the slower of compute at `efficiency` of the device's peak and
// the compulsory traffic, plus a fixed launch cost.
double roofline(double flops, double bytes, double efficiency, const DeviceModel& m) {
  const double compute = flops / (m.gflops * 1e9 * std::max(efficiency, 1e-4));
  const double memory = bytes / (m.bandwidth_gbs * 1e9);
  return std::max(compute, memory) * 1e3 + m.launch_ms;
}

double traffic(const ConvShape& s, const DeviceModel& m) {
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
  bool applicable(const ConvShape&) const override { return true; }
  double cost_ms(const ConvShape& s, const DeviceModel& m) const override {
    // Every output re-reads its whole window from memory: little reuse.
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.06, m);
  }
};

class Depthwise final : public ConvAlgorithm {
 public:
  const char* name() const override { return "depthwise"; }
  ConvShader shader() const override { return ConvShader::Depthwise; }
  bool applicable(const ConvShape& s) const override { return s.planar() && s.depthwise(); }
  double cost_ms(const ConvShape& s, const DeviceModel& m) const override {
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.15, m);
  }
};

class Gemm1x1 final : public ConvAlgorithm {
 public:
  const char* name() const override { return "gemm1x1"; }
  ConvShader shader() const override { return ConvShader::Gemm1x1; }
  bool applicable(const ConvShape& s) const override { return s.planar() && s.pointwise(); }
  double cost_ms(const ConvShape& s, const DeviceModel& m) const override {
    const int64_t P = int64_t{s.out[1]} * s.out[2];
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.6 * tile_use(s.K / s.group, P, s.C / s.group), m);
  }
};

class ImplicitGemm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "implicit_gemm"; }
  ConvShader shader() const override { return ConvShader::ImplicitGemm; }
  bool applicable(const ConvShape& s) const override { return s.planar(); }
  double cost_ms(const ConvShape& s, const DeviceModel& m) const override {
    const int64_t P = int64_t{s.out[1]} * s.out[2];
    const int64_t R = int64_t{s.C / s.group} * s.kernel[1] * s.kernel[2];
    // Index arithmetic per gathered tap costs a little over gemm1x1.
    return roofline(2.0 * static_cast<double>(s.macs()), traffic(s, m), 0.45 * tile_use(s.K / s.group, P, R), m);
  }
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

const std::vector<const ConvAlgorithm*>& conv_algorithms() {
  static const Gemm1x1 gemm1x1;
  static const Depthwise depthwise;
  static const ImplicitGemm implicit_gemm;
  static const Direct direct;
  static const std::vector<const ConvAlgorithm*> all = {&gemm1x1, &depthwise, &implicit_gemm, &direct};
  return all;
}

const ConvAlgorithm* find_conv_algorithm(const std::string& name) {
  for (const ConvAlgorithm* a : conv_algorithms())
    if (name == a->name()) return a;
  return nullptr;
}

std::vector<std::string> conv_algorithm_names() {
  std::vector<std::string> v;
  for (const ConvAlgorithm* a : conv_algorithms()) v.emplace_back(a->name());
  v.emplace_back(kFusedDwPw);
  return v;
}

bool fused_applicable(const ConvShape& dw, const ConvShape& pw) {
  return dw.planar() && dw.depthwise() && pw.planar() && pw.pointwise() && pw.group == 1 && pw.stride[1] == 1 &&
         pw.stride[2] == 1 && pw.C == dw.K && pw.N == dw.N && pw.in == dw.out;
}

double fused_cost_ms(const ConvShape& dw, const ConvShape& pw, const DeviceModel& m) {
  const int64_t P = int64_t{pw.out[1]} * pw.out[2];
  // The depthwise values are recomputed for every 64-channel tile of the 1x1's outputs.
  const double tiles = static_cast<double>((pw.K + 63) / 64);
  const double pw_time = 2.0 * static_cast<double>(pw.macs()) / (0.6 * tile_use(pw.K, P, pw.C));
  const double dw_time = 2.0 * static_cast<double>(dw.macs()) * tiles / 0.15;
  const double bytes = m.element_bytes * static_cast<double>(dw.input_elems() + dw.weight_elems() + pw.weight_elems() + pw.output_elems());
  return std::max((pw_time + dw_time) / (m.gflops * 1e9), bytes / (m.bandwidth_gbs * 1e9)) * 1e3 + m.launch_ms;
}

ConvSelector::ConvSelector(const BackendOptions& options, const Context& ctx)
    : model_(ctx.model), signature_(ctx.signature) {
  if (options.fp16_storage) {
    // Half the traffic; and float16-storage timings are not float32 ones, so
    // tune keeps them under their own key.
    model_.element_bytes = 2;
    signature_ += " fp16-storage";
  }
  const std::string& a = options.algorithm;
  if (a.empty() || a == "heuristic") {
    mode_ = Mode::Heuristic;
  } else if (a == "tune") {
    if (options.deterministic)
      throw Error(ErrorCode::InvalidArgument,
                  "--algorithm tune picks algorithms by timing, which can differ between runs; it cannot be combined "
                  "with deterministic mode");
    mode_ = Mode::Tune;
    cache_path_ = options.tuning_cache.empty() ? default_cache_path() : options.tuning_cache;
    load_cache();
  } else if (a.rfind("fixed:", 0) == 0) {
    mode_ = Mode::Fixed;
    const std::string name = a.substr(6);
    fixed_fused_ = name == kFusedDwPw;
    fixed_ = find_conv_algorithm(name);
    if (!fixed_ && !fixed_fused_)
      throw Error(ErrorCode::InvalidArgument, "unknown convolution algorithm '" + name +
                                                  "' for backend vulkan (available: " + join(conv_algorithm_names()) + ")");
  } else {
    throw Error(ErrorCode::InvalidArgument, "unknown algorithm mode '" + a +
                                                "' (expected heuristic, tune or fixed:NAME with NAME one of " +
                                                join(conv_algorithm_names()) + ")");
  }
}

std::string ConvSelector::default_cache_path() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/kiln/vulkan-tuning.tsv";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/kiln/vulkan-tuning.tsv";
  return "kiln-vulkan-tuning.tsv";
}

Selection ConvSelector::heuristic(const ConvShape& s) const {
  Selection best;
  for (const ConvAlgorithm* a : conv_algorithms()) {
    if (!a->applicable(s)) continue;
    const double ms = a->cost_ms(s, model_);
    if (!best.algorithm || ms < best.estimated_ms) {
      best.algorithm = a;
      best.estimated_ms = ms;
    }
  }
  best.how = "heuristic";
  return best;
}

Selection ConvSelector::choose(const ConvShape& s, bool residual, const Measure& measure) {
  if (mode_ == Mode::Fixed && fixed_ && fixed_->applicable(s)) return {fixed_, fixed_->cost_ms(s, model_), -1, "fixed"};
  if (mode_ == Mode::Tune) {
    const std::string key = fmt::format("{}\t{}\t{}", signature_, s.key(), residual ? 1 : 0);
    if (auto it = cache_.find(key); it != cache_.end())
      if (const ConvAlgorithm* a = find_conv_algorithm(it->second); a && a->applicable(s))
        return {a, a->cost_ms(s, model_), -1, "tuning cache"};
    ++tuned_;
    Selection best;
    std::string line;
    for (const ConvAlgorithm* a : conv_algorithms()) {
      if (!a->applicable(s)) continue;
      const double ms = measure(*a);
      line += fmt::format(" {} {:.3f} ms,", a->name(), ms);
      if (!best.algorithm || ms < best.measured_ms) best = {a, a->cost_ms(s, model_), ms, "tuned"};
    }
    fmt::print(stderr, "tuning vulkan conv #{} [{}]:{} -> {}\n", tuned_, s.key(), line, best.algorithm->name());
    cache_[key] = best.algorithm->name();
    append_cache(key, best.algorithm->name(), best.measured_ms);
    return best;
  }
  Selection h = heuristic(s);
  if (mode_ == Mode::Fixed) h.how = fmt::format("heuristic ({} does not apply)", fixed_ ? fixed_->name() : kFusedDwPw);
  return h;
}

bool ConvSelector::fuse(const ConvShape& dw, const ConvShape& pw, double separate_ms, double* fused_ms) const {
  if (!fused_applicable(dw, pw)) return false;
  *fused_ms = fused_cost_ms(dw, pw, model_);
  if (mode_ == Mode::Fixed) return fixed_fused_;
  return *fused_ms < separate_ms;
}

void ConvSelector::load_cache() {
  std::ifstream in(cache_path_);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    // device signature, shape, residual (the key), algorithm, ms
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
    if (f.size() < 4) continue;
    cache_[f[0] + '\t' + f[1] + '\t' + f[2]] = f[3];
  }
}

void ConvSelector::append_cache(const std::string& key, const std::string& algorithm, double ms) {
  std::error_code ec;
  const auto dir = std::filesystem::path(cache_path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::ofstream out(cache_path_, std::ios::app);
  if (!out) {
    fmt::print(stderr, "warning: cannot write the tuning cache {}; results are kept for this session only\n", cache_path_);
    return;
  }
  out << key << '\t' << algorithm << '\t' << fmt::format("{:.4f}", ms) << '\n';
}

}  // namespace kiln::vk
