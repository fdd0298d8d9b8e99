#pragma once
// The CUDA backend's lowerings, one function per op family, each in
// ops/<family>.cpp (host code; the kernels they launch are in
// ops/<family>.cu and conv/); the backend's main file spreads them into a
// table indexed by op (table_by_op, engine/core/op_info.hpp).
#include "kernels/cuda/lowering.hpp"

namespace kiln::cuda {

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

// Before any node is lowered: which depthwise convolutions run fused with a
// pointwise neighbour (ops/conv.cpp, FusePlanner; fills l.pairs and l.pair_of).
void plan_pairs(Lowering& l);

}  // namespace kiln::cuda
