#pragma once
// Residual-Add fusion, as the CPU and Vulkan backends do it: a convolution
// whose only reader is an Add of a tensor that already exists can add that
// tensor in its epilogue, so the Add never runs on its own.
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln {

struct ResidualAdd {
  TensorId residual = -1;  // the Add's other operand
  int add = -1;            // the Add node, or -1 when there is nothing to fuse
  explicit operator bool() const { return add >= 0; }
};

// The Add that node `conv` (a Conv) can take into its epilogue: the Conv has
// no fused activation (the Add comes before any activation), its output is
// read only by that Add and is not a graph output, and the other operand has
// the same shape, is not a constant, and is produced before node `first` (the
// node at whose place the fused step runs: `conv` itself, or the first node
// of a fused chain ending in it). The Add's own activation moves along.
ResidualAdd residual_after(const Graph& graph, const std::vector<std::vector<int>>& consumers,
                           const std::vector<int>& producers, int conv, int first);

}  // namespace kiln
