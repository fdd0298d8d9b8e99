#include <fmt/format.h>

#include "engine/runtime/algorithm_selection.hpp"
#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {

const ConvAlgorithm& pointwise_algorithm();
const ConvAlgorithm& depthwise_algorithm();
const ConvAlgorithm& winograd_algorithm();
const ConvAlgorithm& winograd_f23_algorithm();
const ConvAlgorithm& winograd_f63_algorithm();
const ConvAlgorithm& im2win_algorithm();
const ConvAlgorithm& im2col_algorithm();
const ConvAlgorithm& direct_algorithm();

const std::vector<const ConvAlgorithm*>& conv_algorithms() {
  static const std::vector<const ConvAlgorithm*> all = {&pointwise_algorithm(), &depthwise_algorithm(),
                                                        &winograd_algorithm(), &winograd_f23_algorithm(),
                                                        &winograd_f63_algorithm(), &im2win_algorithm(), &im2col_algorithm(),
                                                        &direct_algorithm()};
  return all;
}

const ConvAlgorithm* find_conv_algorithm(const std::string& name) { return find_by_name(conv_algorithms(), name); }

std::string human_bytes(size_t bytes) {
  if (bytes >= (size_t{1} << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1 << 20));
  if (bytes >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{} B", bytes);
}

}  // namespace kiln::cpu
