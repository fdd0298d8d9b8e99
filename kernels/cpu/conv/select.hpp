#pragma once
// Picks a convolution algorithm per layer: `heuristic` (lowest cost estimate,
// deterministic), `tune` (times every candidate once and remembers the winner
// in a tuning-cache file keyed by CPU, thread count and layer shape), or
// `fixed:NAME` (that algorithm wherever it applies, the heuristic elsewhere).
#include <optional>
#include <string>

#include "engine/runtime/algorithm_selection.hpp"
#include "engine/runtime/backend.hpp"
#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/fused_chain.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"
#include "kernels/cpu/isa.hpp"

namespace kiln::cpu {

// Every name fixed:NAME accepts (the registered float and int8 algorithms;
// a name in both, such as winograd, fixes both kinds of layer).
std::vector<std::string> algorithm_names();

using Selection = kiln::Selection<ConvAlgorithm>;
using QSelection = kiln::Selection<QConvAlgorithm>;

class ConvSelector {
 public:
  ConvSelector(const BackendOptions& options, Isa isa);
  // The algorithm for `layer`; with `residual`, only those that fuse a residual Add.
  Selection choose(const ConvLayer& layer, bool residual);
  // The same for a quantized layer, among qconv_algorithms() (their results
  // are the same bits, so tune may pick any of them).
  QSelection choose_q(const QConvLayer& layer);
  // Tune mode only (nullopt otherwise, where the cost model decides): whether
  // the chain runs faster fused than as its layers with their tuned
  // algorithms, both timed once and the verdict cached.
  struct ChainVerdict {
    bool fuse = false;
    double fused_ms = -1, separate_ms = -1;  // -1: read from the tuning cache
    std::string how;                         // "tuned" or "tuning cache"
  };
  std::optional<ChainVerdict> tune_chain(const ChainLayers& c);
  const MachineModel& machine() const { return machine_; }
  bool fixed_mode() const { return mode_.fixed(); }

 private:
  Selection heuristic(const ConvGeometry& s, bool residual) const;
  Selection tune(const ConvLayer& layer, bool residual);
  template <class Algorithm, class Usable, class Time>
  kiln::Selection<Algorithm> tune_among(const std::vector<const Algorithm*>& algorithms, const TuningCache::Key& k,
                                        const ConvGeometry& s, Usable usable, Time time);
  TuningCache::Key key(std::string shape, bool residual) const;

  SelectionMode mode_;
  const ConvAlgorithm* fixed_ = nullptr;
  const QConvAlgorithm* fixed_q_ = nullptr;
  MachineModel machine_;
  std::string signature_;
  std::optional<TuningCache> cache_;  // tune only
  int tuned_ = 0;
};

}  // namespace kiln::cpu
