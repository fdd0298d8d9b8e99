#pragma once
// Shape arithmetic shared by the host evaluator and the op importers, so that
// a Reshape or Squeeze folded on the host and one imported as a graph node
// resolve their attributes the same way.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln::onnx_import {

// An ONNX axis in [-rank, rank) as a non-negative axis; `where` names the node.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where, const char* what = "axis");

// Normalised, sorted axes; repeated axes are an error.
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const std::string& where);

// The target of a Reshape with ONNX's 0 (copy the input dim, unless allowzero)
// and -1 (infer) resolved; checks that the element counts agree.
Shape resolve_reshape(const Shape& input, const std::vector<int64_t>& target, bool allowzero, const std::string& where);

// numpy broadcasting of any number of shapes.
Shape broadcast_all(const std::vector<Shape>& shapes, const std::string& where);

// The output shape of Squeeze: `axes` normalised; empty axes drop every 1.
Shape squeeze_shape(const Shape& input, const std::vector<int64_t>& axes, const std::string& where,
                    std::vector<int64_t>* resolved_axes = nullptr);
// The output shape of Unsqueeze (axes index the output).
Shape unsqueeze_shape(const Shape& input, const std::vector<int64_t>& axes, const std::string& where,
                      std::vector<int64_t>* resolved_axes = nullptr);

}  // namespace kiln::onnx_import

namespace kiln::onnx_import {

// A Slice's parameters with axes made non-negative and checked: equal lengths,
// no repeated axis, no zero step. Steps beyond +-(dim+1) are clamped (they
// select the same elements), so later arithmetic cannot overflow.
struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};
SliceParams normalize_slice(const Shape& input, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                            const std::vector<int64_t>* axes, const std::vector<int64_t>* steps,
                            const std::string& where);

}  // namespace kiln::onnx_import
