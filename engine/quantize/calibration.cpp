#include "engine/quantize/calibration.hpp"

#include <algorithm>
#include <cmath>

namespace kiln::quantize {

const char* method_name(Method m) { return m == Method::MinMax ? "minmax" : "percentile"; }

Method parse_method(const std::string& text) {
  if (text == "minmax") return Method::MinMax;
  if (text == "percentile") return Method::Percentile;
  throw Error(ErrorCode::InvalidArgument,
              "unknown calibration method '" + text + "': use minmax or percentile (entropy is not implemented)");
}

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
    const auto b = static_cast<int64_t>((double{v} + limit_) * per_bin);
    ++bins_[static_cast<size_t>(std::clamp<int64_t>(b, 0, kBins - 1))];
  }
  min_ = count_ ? std::min(min_, lo) : lo;
  max_ = count_ ? std::max(max_, hi) : hi;
  count_ += static_cast<int64_t>(values.size());
}

Range TensorStats::range(Method method, double percent) const {
  if (count_ == 0) return {};
  if (method == Method::MinMax || percent >= 100.0) return {min_, max_};
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
