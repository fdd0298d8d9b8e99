#pragma once
// One exporter per op family (export_<family>.cpp, as the importers): each
// writes a Kiln node as ONNX nodes through the Exporter, or throws
// Unsupported (no_onnx_form) for attribute values ONNX cannot say.
#include "converter/export_context.hpp"

namespace kiln::onnx_export {

void export_conv(Exporter& ex, const Node& n);
void export_pool(Exporter& ex, const Node& n);        // MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
void export_activation(Exporter& ex, const Node& n);  // Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh
void export_binary(Exporter& ex, const Node& n);      // Add, Sub, Mul, Div
void export_batchnorm(Exporter& ex, const Node& n);
void export_softmax(Exporter& ex, const Node& n);
void export_matmul(Exporter& ex, const Node& n);      // Gemm, MatMul
void export_reduce(Exporter& ex, const Node& n);      // ReduceMean
void export_shape(Exporter& ex, const Node& n);       // Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
void export_data_movement(Exporter& ex, const Node& n);  // Transpose, Concat, Split, Slice, Pad
void export_quantize(Exporter& ex, const Node& n);    // QuantizeLinear, DequantizeLinear

}  // namespace kiln::onnx_export
