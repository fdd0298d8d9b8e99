#pragma once
// One importer per ONNX op family that Kiln runs as graph nodes. Each reads
// the node through NodeContext, checks its attributes (an unsupported value is
// an Unsupported error naming the node, op and attribute) and emits Kiln nodes.
#include "converter/import_context.hpp"

namespace kiln::onnx_import {

// import_conv.cpp
void import_conv(NodeContext& ctx);

// import_pool.cpp
void import_pool(NodeContext& ctx);         // MaxPool, AveragePool
void import_global_pool(NodeContext& ctx);  // GlobalAveragePool, GlobalMaxPool

// import_activation.cpp
void import_activation(NodeContext& ctx);   // Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, HardSigmoid
void import_clip(NodeContext& ctx);

// import_binary.cpp
void import_binary(NodeContext& ctx);       // Add, Sub, Mul, Div

// import_batchnorm.cpp
void import_batch_norm(NodeContext& ctx);

// import_softmax.cpp
void import_softmax(NodeContext& ctx);

// import_matmul.cpp
void import_gemm(NodeContext& ctx);
void import_matmul(NodeContext& ctx);

// import_reduce.cpp
void import_reduce_mean(NodeContext& ctx);

// import_shape.cpp
void import_flatten(NodeContext& ctx);
void import_reshape(NodeContext& ctx);
void import_squeeze(NodeContext& ctx);
void import_unsqueeze(NodeContext& ctx);
void import_identity(NodeContext& ctx);
void import_dropout(NodeContext& ctx);

// import_data_movement.cpp
void import_transpose(NodeContext& ctx);
void import_concat(NodeContext& ctx);
void import_split(NodeContext& ctx);
void import_slice(NodeContext& ctx);
void import_pad(NodeContext& ctx);

// import_quantize.cpp
void import_quantize_linear(NodeContext& ctx);
void import_dequantize_linear(NodeContext& ctx);
// For the QLinear* ops (ONNX's integer form, imported with their float op's family):
// the scale (input `scale`) and zero point (`zp`, optional) of a tensor of rank `rank`.
QuantParams read_quant_params(NodeContext& ctx, size_t scale, size_t zp, size_t rank, int64_t default_axis, DType* dt);
// Input `data` as a quantized graph tensor with the parameters of inputs
// `scale` and `zp` (a constant becomes an integer constant; a tensor must
// already carry those parameters).
TensorId quantized_operand(NodeContext& ctx, size_t data, size_t scale, size_t zp, int64_t default_axis);
// Gives the node just emitted a quantized output with the parameters of inputs `scale` and `zp`.
void set_output_quantization(NodeContext& ctx, size_t scale, size_t zp);
// An int32 bias input as a constant in units of sx·sw.
TensorId quantized_bias(NodeContext& ctx, size_t bias, const TensorInfo& x, const TensorInfo& w);

// import_conv.cpp
void import_qlinear_conv(NodeContext& ctx);        // QLinearConv
// import_matmul.cpp
void import_qlinear_matmul(NodeContext& ctx);      // QLinearMatMul
// import_binary.cpp
void import_qlinear_add(NodeContext& ctx);         // com.microsoft.QLinearAdd
// import_pool.cpp
void import_qlinear_global_pool(NodeContext& ctx); // com.microsoft.QLinearGlobalAveragePool

}  // namespace kiln::onnx_import
