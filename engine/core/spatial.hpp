#pragma once
// Geometry of sliding-window ops (Conv, MaxPool, AveragePool) from a node:
// one place for the output-size arithmetic that shape inference and every
// kernel must agree on. The geometry types themselves (Window3d,
// ConvGeometry) are in conv_geometry.hpp.
#include <cstdint>
#include <vector>

#include "engine/core/conv_geometry.hpp"
#include "engine/core/graph.hpp"

namespace kiln {

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
