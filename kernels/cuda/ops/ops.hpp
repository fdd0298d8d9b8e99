#pragma once
// The CUDA backend's lowerings, one function per op family, each in
// ops/<family>.cpp (host code; the kernels they launch are in
// ops/<family>.cu and conv/); the backend's main file calls them through
// lowering_table (engine/runtime/lowering.hpp), indexed by op.
#include "kernels/cuda/lowering.hpp"

namespace kiln::cuda {

KILN_DECLARE_FAMILY_LOWERINGS(Lowering);

// Before any node is lowered: which depthwise convolutions run fused with a
// pointwise neighbour (ops/conv.cpp, FusePlanner; fills l.pairs and l.pair_of).
void plan_pairs(Lowering& l);

}  // namespace kiln::cuda
