#include "engine/quantize/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::quantize {

const char* method_name(Method m) {
  switch (m) {
    case Method::MinMax:
      return "minmax";
    case Method::Percentile:
      return "percentile";
    case Method::Entropy:
      return "entropy";
  }
  return "?";
}

Method parse_method(const std::string& text) {
  for (Method m : {Method::MinMax, Method::Percentile, Method::Entropy})
    if (text == method_name(m)) return m;
  throw Error(ErrorCode::InvalidArgument,
              "unknown calibration method '" + text + "': use minmax, percentile or entropy");
}

namespace {

// Normalises `h` and moves a little mass onto its empty bins, so that a
// divergence against it stays finite (a bin the reference has and the
// quantized form lost would otherwise cost infinitely much).
std::vector<double> smoothed(const std::vector<double>& h) {
  constexpr double kEps = 1e-4;
  double total = 0;
  size_t zeros = 0;
  for (double x : h) {
    total += x;
    zeros += x == 0 ? 1 : 0;
  }
  std::vector<double> p(h.size(), 0.0);
  if (total <= 0) return p;
  const size_t nonzeros = h.size() - zeros;
  const double take = nonzeros ? kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros) : 0.0;
  for (size_t j = 0; j < h.size(); ++j) p[j] = h[j] == 0 ? kEps : h[j] / total - take;
  for (double& x : p) x = std::max(x, 1e-12);
  return p;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double d = 0;
  for (size_t j = 0; j < p.size(); ++j) d += p[j] * std::log(p[j] / q[j]);
  return d;
}

}  // namespace

void TensorStats::widen(double magnitude) {
  if (bins_.empty()) {
    bins_.assign(kBins, 0);
    limit_ = magnitude > 0 ? magnitude : 1e-30;
    return;
  }
  while (limit_ < magnitude) {
    // [-L, L] becomes [-2L, 2L]: the old bins land pairwise in the middle half.
    std::vector<int64_t> wider(kBins, 0);
    for (int j = 0; j < kBins; ++j) wider[kBins / 4 + j / 2] += bins_[j];
    bins_ = std::move(wider);
    limit_ *= 2;
  }
}

void TensorStats::add(std::span<const float> values) {
  if (values.empty()) return;
  float lo = values[0], hi = values[0];
  for (float v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  widen(std::max(std::fabs(double{lo}), std::fabs(double{hi})));
  const double per_bin = kBins / (2 * limit_);
  for (float v : values) {
    zeros_ += v == 0.0f ? 1 : 0;
    const auto b = static_cast<int64_t>((double{v} + limit_) * per_bin);
    ++bins_[static_cast<size_t>(std::clamp<int64_t>(b, 0, kBins - 1))];
  }
  min_ = count_ ? std::min(min_, lo) : lo;
  max_ = count_ ? std::max(max_, hi) : hi;
  count_ += static_cast<int64_t>(values.size());
}

double TensorStats::entropy_threshold() const {
  const bool non_negative = min_ >= 0.0f;
  // 255 steps of uint8 over [0, t]; 128 per side when the range is two-sided.
  const int levels = non_negative ? 255 : 128;
  // The histogram of the magnitudes: bin j is [j, j + 1) · L/(kBins/2).
  constexpr int half = kBins / 2;
  std::vector<double> mag(half, 0.0);
  for (int j = 0; j < half; ++j)
    mag[static_cast<size_t>(j)] = static_cast<double>(bins_[static_cast<size_t>(half + j)]) +
                                  static_cast<double>(bins_[static_cast<size_t>(half - 1 - j)]);
  mag[0] -= static_cast<double>(zeros_);
  int used = half;
  while (used > 0 && mag[static_cast<size_t>(used - 1)] == 0) --used;
  const double width = limit_ / half;
  const double max_abs = std::max(std::fabs(double{min_}), std::fabs(double{max_}));
  if (used <= levels) return max_abs;

  double best = std::numeric_limits<double>::infinity();
  int best_i = used;
  for (int i = levels; i <= used; ++i) {
    // The reference: the first i bins, with every value beyond folded into the
    // last (clipping puts them there).
    std::vector<double> p(mag.begin(), mag.begin() + i);
    for (int j = i; j < used; ++j) p.back() += mag[static_cast<size_t>(j)];
    // The quantized form: i bins merged into `levels` groups, each group's
    // count spread evenly over the bins that held values.
    std::vector<double> q(static_cast<size_t>(i), 0.0);
    for (int k = 0; k < levels; ++k) {
      const int lo = static_cast<int>(static_cast<int64_t>(k) * i / levels);
      const int hi = static_cast<int>(static_cast<int64_t>(k + 1) * i / levels);
      double sum = 0;
      int filled = 0;
      for (int j = lo; j < hi; ++j) {
        sum += mag[static_cast<size_t>(j)];
        filled += mag[static_cast<size_t>(j)] > 0 ? 1 : 0;
      }
      for (int j = lo; j < hi; ++j)
        if (mag[static_cast<size_t>(j)] > 0) q[static_cast<size_t>(j)] = sum / filled;
    }
    const double d = kl_divergence(smoothed(p), smoothed(q));
    if (d < best) {
      best = d;
      best_i = i;
    }
  }
  return std::min(max_abs, best_i * width);
}

Range TensorStats::range(Method method, double percent) const {
  if (count_ == 0) return {};
  if (method == Method::MinMax) return {min_, max_};
  if (method == Method::Entropy) {
    const auto t = static_cast<float>(entropy_threshold());
    return {std::max(min_, -t), std::min(max_, t)};
  }
  if (percent >= 100.0) return {min_, max_};
  if (!(percent > 50.0))
    throw Error(ErrorCode::InvalidArgument, "percentile " + std::to_string(percent) + " must be in (50, 100]");
  const double bin = 2 * limit_ / kBins;
  const auto tail = static_cast<int64_t>(std::floor(static_cast<double>(count_) * (100.0 - percent) / 100.0));
  // Each end drops at most `tail` values, whole bins at a time.
  int64_t seen = 0;
  int lo_bin = 0;
  for (; lo_bin < kBins; ++lo_bin) {
    seen += bins_[static_cast<size_t>(lo_bin)];
    if (seen > tail) break;
  }
  seen = 0;
  int hi_bin = kBins - 1;
  for (; hi_bin >= 0; --hi_bin) {
    seen += bins_[static_cast<size_t>(hi_bin)];
    if (seen > tail) break;
  }
  const auto lo = static_cast<float>(-limit_ + lo_bin * bin);
  const auto hi = static_cast<float>(-limit_ + (hi_bin + 1) * bin);
  return {std::max(min_, lo), std::min(max_, hi)};
}

void Calibration::add(const std::string& name, std::span<const float> values) {
  for (float v : values)
    if (!std::isfinite(v))
      throw Error(ErrorCode::InvalidArgument,
                  "tensor '" + name + "' took a value that is not finite during calibration; no range can hold it");
  stats_[name].add(values);
}

Ranges Calibration::ranges(Method method, double percent) const {
  Ranges r;
  for (const auto& [name, s] : stats_)
    if (s.count() > 0) r[name] = s.range(method, percent);
  return r;
}

}  // namespace kiln::quantize
