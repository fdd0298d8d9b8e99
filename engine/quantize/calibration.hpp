#pragma once
// Calibration statistics for post-training quantization: per tensor, the
// extremes seen and a histogram of the values, gathered over every
// calibration input, and the range each method derives from them.
//
//   minmax      [min, max] of every value seen
//   percentile  the p-th and (100 − p)-th percentiles of the values (from the
//               histogram; one rare outlier no longer stretches the scale)
//   entropy     the clipping threshold t whose quantized histogram is closest
//               to the real one in KL divergence (TensorRT's calibration):
//               for a tensor that is never negative (after a Relu) the
//               histogram of x over [0, t] with 255 levels, else that of |x|
//               with 128 levels, the range then [max(min, −t), min(max, t)]
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/quantize/quantize_graph.hpp"

namespace kiln::quantize {

enum class Method { MinMax, Percentile, Entropy };

// "minmax", "percentile", "entropy"; the inverse throws kiln::Error (InvalidArgument) naming them.
const char* method_name(Method m);
Method parse_method(const std::string& text);

// The values of one tensor over the calibration set. The histogram has a
// fixed number of bins over [-limit, limit]; when a value falls outside, the
// limit doubles and neighbouring bins merge, so no second pass over the data
// is needed and the bins stay as fine as the widest value allows.
class TensorStats {
 public:
  static constexpr int kBins = 4096;  // even: bins merge in pairs around 0

  void add(std::span<const float> values);
  int64_t count() const { return count_; }
  int64_t zeros() const { return zeros_; }  // values exactly 0 (in the bin at 0 too)
  float min() const { return min_; }
  float max() const { return max_; }
  double limit() const { return limit_; }
  const std::vector<int64_t>& histogram() const { return bins_; }

  // `percent` in (50, 100]: the range holding that share of the values at the
  // top and at the bottom; 100 gives [min, max]. Entropy ignores it.
  Range range(Method method, double percent = 99.99) const;
  // The entropy method's threshold t (a magnitude, see above).
  double entropy_threshold() const;

 private:
  void widen(double magnitude);
  std::vector<int64_t> bins_;
  double limit_ = 0;
  int64_t count_ = 0, zeros_ = 0;
  float min_ = 0, max_ = 0;
};

class Calibration {
 public:
  // Values of the tensor called `name` from one calibration input. Non-finite
  // values are refused (kiln::Error, InvalidArgument): they would make every
  // range meaningless.
  void add(const std::string& name, std::span<const float> values);
  const std::map<std::string, TensorStats>& tensors() const { return stats_; }
  Ranges ranges(Method method, double percent = 99.99) const;

 private:
  std::map<std::string, TensorStats> stats_;
};

}  // namespace kiln::quantize
