#pragma once
// One importer per ONNX op family that Kiln runs as graph nodes. Each reads
// the node through NodeContext, checks its attributes (an unsupported value is
// an Unsupported error naming the node, op and attribute) and emits Kiln nodes.
#include "converter/import_context.hpp"

namespace kiln::onnx_import {

// import_conv_pool.cpp
void import_conv(NodeContext& ctx);
void import_pool(NodeContext& ctx);         // MaxPool, AveragePool
void import_global_pool(NodeContext& ctx);  // GlobalAveragePool, GlobalMaxPool

// import_elementwise.cpp
void import_activation(NodeContext& ctx);   // Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, HardSigmoid
void import_clip(NodeContext& ctx);
void import_binary(NodeContext& ctx);       // Add, Sub, Mul, Div
void import_batch_norm(NodeContext& ctx);
void import_identity(NodeContext& ctx);
void import_dropout(NodeContext& ctx);

// import_matmul_reduce.cpp
void import_gemm(NodeContext& ctx);
void import_matmul(NodeContext& ctx);
void import_reduce_mean(NodeContext& ctx);
void import_softmax(NodeContext& ctx);

// import_shape_ops.cpp
void import_flatten(NodeContext& ctx);
void import_reshape(NodeContext& ctx);
void import_transpose(NodeContext& ctx);
void import_concat(NodeContext& ctx);
void import_split(NodeContext& ctx);
void import_slice(NodeContext& ctx);
void import_pad(NodeContext& ctx);
void import_squeeze(NodeContext& ctx);
void import_unsqueeze(NodeContext& ctx);

}  // namespace kiln::onnx_import
