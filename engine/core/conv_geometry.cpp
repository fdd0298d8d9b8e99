#include "engine/core/conv_geometry.hpp"

#include <fmt/format.h>

namespace kiln {

std::string ConvGeometry::key() const {
  std::string k = fmt::format("N{} C{} H{} W{} K{} k{}x{} s{}x{} d{}x{} p{},{},{},{} g{}", N, C, H, W, K, KH, KW, sh,
                              sw, dh, dw, pt, pl, pb, pr, group);
  if (!is_planar()) k += fmt::format(" 3d D{} kd{} sd{} dd{} pd{},{}", D, KD, sd, dd, pf, pk);
  return k;
}

}  // namespace kiln
