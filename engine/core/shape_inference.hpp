#pragma once
// Static shape inference: output shapes from input shapes and attributes, kept
// apart from the kernels (as in MNN). The converter uses it to fill in shapes,
// the loader to check that a file's stored shapes are consistent, and kernels
// share its helpers (broadcasting, slice ranges) so they cannot disagree.
#include <array>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/core/strided_view.hpp"

namespace kiln {

// Output shapes of `node` given the shapes currently stored for its inputs.
// Validates attributes against those shapes; throws kiln::Error naming the node.
std::vector<Shape> infer_output_shapes(const Graph& graph, const Node& node);

// Runs inference over all nodes in order and stores the output shapes.
void infer_shapes(Graph& graph);

// Checks that every stored output shape equals the inferred one.
void check_shapes(const Graph& graph);

// numpy-style broadcast of two shapes; throws if they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& node_name);

SliceRange resolve_slice(int64_t dim, int64_t start, int64_t end, int64_t step);

// Per-axis slice ranges for a Slice node on an input of `shape` (unsliced axes
// get the full range). A fixed-size array, so kernels can call it without
// allocating; entries past shape.size() are unused.
SliceRanges slice_ranges(const Shape& shape, const fb::SliceAttrsT& attrs, const std::string& node_name);

// A Softmax input seen as `outer` blocks of `len` values spaced `inner` apart:
// `len` spans the axis, or with over_trailing_axes (opset < 13) every axis
// from it on. The reference and every backend read the op this one way.
struct SoftmaxExtents {
  int64_t outer = 1, len = 1, inner = 1;
};
SoftmaxExtents softmax_extents(const Shape& input, const fb::SoftmaxAttrsT& attrs);

}  // namespace kiln
