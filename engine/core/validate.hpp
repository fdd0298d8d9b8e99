#pragma once
#include "engine/core/graph.hpp"

namespace kiln {

// Kiln's semantic checks on a graph, run on every load and after conversion:
// indices in range, each tensor produced once, nodes in topological order (so
// no cycles), attribute tables matching their ops, float32 tensors with sane
// shapes, constant sizes matching shapes, and stored shapes equal to the
// inferred ones. Throws kiln::Error naming the first problem found.
void validate_graph(const Graph& graph);

}  // namespace kiln
