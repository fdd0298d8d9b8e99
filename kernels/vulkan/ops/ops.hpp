#pragma once
// The Vulkan backend's lowerings, one function per op family, each in
// ops/<family>.cpp; the backend's main file spreads them into a table
// indexed by op (table_by_op, engine/core/op_info.hpp).
#include "kernels/vulkan/lowering.hpp"

namespace kiln::vk {

using LowerFn = void (*)(Lowering&, int node);

void lower_conv(Lowering& l, int node);
void lower_pool(Lowering& l, int node);
void lower_activation(Lowering& l, int node);
void lower_binary(Lowering& l, int node);
void lower_batchnorm(Lowering& l, int node);
void lower_softmax(Lowering& l, int node);
void lower_matmul(Lowering& l, int node);
void lower_reduce(Lowering& l, int node);
void lower_shape(Lowering& l, int node);
void lower_data_movement(Lowering& l, int node);

// Before any node is lowered: which depthwise layers run fused with the 1x1
// reading them (ops/conv.cpp; fills l.fused_pw).
void plan_fusions(Lowering& l);

}  // namespace kiln::vk
