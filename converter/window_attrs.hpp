#pragma once
// The sliding-window attributes that Conv and the pools share: kernel,
// strides, dilations and pads (auto_pad resolved into explicit pads).
#include <vector>

#include "converter/import_context.hpp"

namespace kiln::onnx_import {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
};

// Reads strides and dilations (default 1) and the padding, resolving auto_pad
// into explicit pads from the static input shape.
Window read_window(NodeContext& ctx, const Shape& x, std::vector<int64_t> kernel);

// The number of spatial axes of an (N, C, spatial...) tensor; 1 to 3.
size_t spatial_rank(NodeContext& ctx, const Shape& x, const char* which);

}  // namespace kiln::onnx_import
