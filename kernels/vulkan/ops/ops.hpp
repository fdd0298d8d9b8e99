#pragma once
// The Vulkan backend's lowerings, one function per op family, each in
// ops/<family>.cpp; the backend's main file calls them through
// lowering_table (engine/runtime/lowering.hpp), indexed by op.
#include "kernels/vulkan/lowering.hpp"

namespace kiln::vk {

KILN_DECLARE_FAMILY_LOWERINGS(Lowering);

// Before any node is lowered: which depthwise layers run fused with the 1x1
// reading them (ops/conv.cpp; fills l.fused_pw).
void plan_fusions(Lowering& l);

}  // namespace kiln::vk
