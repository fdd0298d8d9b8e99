#pragma once
// Geometry of sliding-window ops (Conv, MaxPool, AveragePool): one place for the
// output-size arithmetic that shape inference and every kernel must agree on.
// Up to three spatial axes; fewer are padded to three with size-1 axes so that
// kernels can use one 3-D loop nest for 1-D, 2-D and 3-D ops.
#include <array>
#include <cstdint>
#include <vector>

#include "engine/core/conv_geometry.hpp"
#include "engine/core/graph.hpp"

namespace kiln {

struct Window3d {
  int rank = 0;  // spatial axes in the original op: 1, 2 or 3
  std::array<int64_t, 3> in{1, 1, 1};
  std::array<int64_t, 3> out{1, 1, 1};
  std::array<int64_t, 3> kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> dilation{1, 1, 1};
  std::array<int64_t, 3> pad_begin{0, 0, 0};
  std::array<int64_t, 3> pad_end{0, 0, 0};
};

// Builds the window for an input of `input_shape` (N, C, spatial...). Checks the
// attribute lengths and values; throws kiln::Error naming `node_name` otherwise.
Window3d make_window(const std::string& node_name, const Shape& input_shape,
                     const std::vector<int32_t>& kernel, const std::vector<int32_t>& strides,
                     const std::vector<int32_t>& dilations, const std::vector<int32_t>& pads,
                     bool ceil_mode);

// The geometry of a Conv node whose input has shape `x` and weights `w`
// ([K][C/group][kernel...]); shape inference has checked the attributes.
ConvGeometry conv_geometry(const Node& node, const Shape& x, const Shape& w);
ConvGeometry conv_geometry(const Graph& graph, const Node& node);

}  // namespace kiln
