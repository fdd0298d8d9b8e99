#pragma once
// The CPU backend's lowerings, one function per op family, each in
// ops/<family>.cpp; the backend's main file calls them through
// lowering_table (engine/runtime/lowering.hpp), indexed by op. A family
// without a SIMD kernel for some case hands the node to the reference kernel
// (Lowering::lower_with_reference).
#include "kernels/cpu/lowering.hpp"

namespace kiln::cpu {

KILN_DECLARE_FAMILY_LOWERINGS(Lowering);

// Before any node is lowered: which expand -> depthwise -> project chains run
// fused (ops/conv.cpp; fills l.chains and l.chain_of).
void plan_chains(Lowering& l);

}  // namespace kiln::cpu
