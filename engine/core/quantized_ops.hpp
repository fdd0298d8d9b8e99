#pragma once
// Which ops run on quantized tensors, and the integer parameters of each
// quantized op, derived once from the graph so that the reference kernels
// and every fast kernel agree on them. The arithmetic itself is in
// quantization.hpp.
//
// A node is quantized when its first input and first output are uint8 or
// int8 tensors (QuantParams on each). Kiln's quantized forms:
//   Conv, Gemm, MatMul        integer accumulation (weight a quantized constant,
//                             per tensor or per output channel; bias an int32 constant)
//   Add                       quant::add
//   GlobalAveragePool, AveragePool   integer sums, requantized
//   MaxPool, GlobalMaxPool, Relu, Clip, Concat, Split, Transpose, Slice, Pad
//   and the reshape-like ops  values pass through (requantized to the output's
//                             parameters if they differ)
//   QuantizeLinear            float -> quantized, or quantized -> quantized (requantize)
//   DequantizeLinear          quantized (uint8, int8 or int32) -> float
#include <cstdint>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/core/quantization.hpp"

namespace kiln {

bool is_quantized_node(const Graph& graph, const Node& node);
// Whether `op` has a quantized form (the list above).
bool has_quantized_form(OpType op);
// Throws (InvalidModel / Unsupported) unless the node's dtypes form its float
// form, its quantized form or a Quantize/Dequantize conversion.
void check_node_dtypes(const Graph& graph, const Node& node);

quant::Range dtype_range(DataType dtype);

// The output clamp of a quantized node: the dtype's range narrowed by a fused
// Relu or Clip (quantize(clip(v)) == clamp(quantize(v), quantize(lo), quantize(hi))).
quant::Range output_clamp(const TensorInfo& y, const fb::FusedActivation& act);

// A quantized Conv, Gemm or MatMul in the integer domain: per output channel n,
//   acc = Σ (x − x_zero_point)(w − w_zero_point[n]) + bias[n]
//   y   = quant::requantize(acc, multiplier[n], y_zero_point, clamp.lo, clamp.hi)
struct QuantizedLinear {
  int32_t x_zero_point = 0;
  std::vector<int32_t> w_zero_point;  // per output channel
  std::vector<float> multiplier;      // sx · sw[n] / sy, per output channel
  std::vector<int32_t> bias;          // per output channel (zeros without a bias)
  int32_t y_zero_point = 0;
  quant::Range clamp{0, 255};
};
// `out_channels` output channels (the weight's per-axis parameters, if any, run along them).
QuantizedLinear quantized_linear(const TensorInfo& x, const TensorInfo& w, const TensorInfo* bias, const TensorInfo& y,
                                 int64_t out_channels, const fb::FusedActivation& act);

// A quantized Add: y = quant::add(a, za, ma, b, zb, mb, zy, lo, hi).
struct QuantizedAdd {
  int32_t za = 0, zb = 0, zy = 0;
  float ma = 1, mb = 1;
  quant::Range clamp{0, 255};
};
QuantizedAdd quantized_add(const TensorInfo& a, const TensorInfo& b, const TensorInfo& y,
                           const fb::FusedActivation& act);

// Requantization from tensor `from` to tensor `to` (per-tensor both):
// y = quant::requantize(x − z_from, s_from / s_to, z_to, lo, hi). Identity when the parameters agree.
struct Requantization {
  int32_t from_zero_point = 0, to_zero_point = 0;
  float multiplier = 1;
  quant::Range clamp{0, 255};
  bool identity = true;
};
Requantization requantization(const TensorInfo& from, const TensorInfo& to);

// The index along the quantization axis of element i of a row-major tensor
// (0 for a per-tensor or unquantized one): which scale and zero point it uses.
struct AxisIndex {
  int64_t inner = 1, size = 1;
  explicit AxisIndex(const TensorInfo& t) {
    if (!t.quant || !t.quant->per_axis()) return;
    const auto axis = static_cast<size_t>(t.quant->axis);
    size = t.shape[axis];
    for (size_t d = axis + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
  }
  int64_t operator()(int64_t i) const { return i / inner % size; }
};

// The float32 values of a quantized constant (uint8, int8 or int32; per tensor or per axis).
ConstantData dequantized_constant(const TensorInfo& x);

// The multiplier of a quantized average of `count` values: sx / (sy · count), rounded once to float.
float average_multiplier(const TensorInfo& x, const TensorInfo& y, int64_t count);

}  // namespace kiln
