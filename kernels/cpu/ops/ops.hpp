#pragma once
// The CPU backend's lowerings, one function per op family, each in
// ops/<family>.cpp; the backend's main file spreads them into a table
// indexed by op (table_by_op, engine/core/op_info.hpp). A family
// without a SIMD kernel for some case hands the node to the reference kernel
// (Lowering::lower_with_reference).
#include "kernels/cpu/lowering.hpp"

namespace kiln::cpu {

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

// Before any node is lowered: which expand -> depthwise -> project chains run
// fused (ops/conv.cpp; fills l.chains and l.chain_of).
void plan_chains(Lowering& l);

}  // namespace kiln::cpu
