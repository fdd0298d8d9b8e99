#pragma once
// Post-training quantization of a float graph (`kiln quantize`): the graph is
// given QuantizeLinear/DequantizeLinear pairs the way an ONNX QDQ model has
// them, and then the convert-time passes (fold_qdq above all) turn it into
// quantized nodes — the same road an imported QDQ model takes, so a model
// quantized here and one quantized elsewhere run on the same kernels.
//
//   activations  uint8, asymmetric, per tensor, from calibrated ranges
//   weights      int8, symmetric (zero point 0), per output channel by
//                default or per tensor; scale = max|w| / 127
//   biases       int32, scale sx · sw[n] (what the accumulator counts), zero point 0
//
// The steps are separate functions so that each can be tested alone:
// plan_quantization (which nodes, with the reason for every node left float),
// activation_params (a calibrated range -> scale and zero point),
// quantize_weight / quantize_bias, insert_qdq (the rewrite), and
// quantize_graph, which runs them and then the passes.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln::quantize {

// The real values a tensor took during calibration (already reduced by the
// calibration method, calibration.hpp).
struct Range {
  float lo = 0, hi = 0;
};
// Tensor name -> range.
using Ranges = std::map<std::string, Range>;

enum class WeightGranularity { PerChannel, PerTensor };

struct QuantizeOptions {
  WeightGranularity weights = WeightGranularity::PerChannel;
  // Node names that stay float32 whatever their ranges.
  std::set<std::string> keep_float;
};

// A node left float32 and why ("kept float by request", "Softmax has no int8 form", ...).
struct FloatNode {
  std::string node, op, reason;
};

struct Plan {
  // Indices of the nodes of the float graph that get quantized, in node order.
  std::vector<size_t> nodes;
  // Float-graph tensors that cross into or out of a quantized node: each gets
  // a QuantizeLinear/DequantizeLinear pair, with these parameters.
  std::map<TensorId, QuantParams> activations;
  std::vector<FloatNode> kept_float;
};

// uint8 asymmetric parameters covering [lo, hi] widened to contain 0 (so that
// zero padding and Relu's floor are exact): scale = (hi − lo) / 255.
QuantParams activation_params(Range range);

// Which nodes to quantize and every crossing tensor's parameters. Conv, Gemm,
// MatMul (constant weights), Add, AveragePool and GlobalAveragePool are
// quantized whenever fold_qdq can fold them and their tensors have ranges;
// ops that only move or select values (MaxPool, Concat, Reshape, Relu, ...)
// only when every input comes from a quantized node, so that no lone Q/DQ
// pair adds rounding between float nodes. Move-only ops reuse their input's
// parameters for their output: their values are a subset of the input's.
// Throws kiln::Error (InvalidArgument) for a graph that is already
// quantized, or a keep_float name no node has.
Plan plan_quantization(const Graph& graph, const Ranges& ranges, const QuantizeOptions& options);

// int8 symmetric weights along `axis` (per channel) or per tensor (axis < 0).
TensorInfo quantize_weight(const TensorInfo& w, int axis);
// int32 bias in units of sx · sw[n]; per axis 0 when the weight is per channel.
TensorInfo quantize_bias(const TensorInfo& b, float x_scale, const QuantParams& w_quant);

// The QDQ rewrite: every planned activation gets x -> Q -> DQ (readers and
// graph outputs read the DQ; a graph output keeps its name), every quantized
// node's weight and bias become int8/int32 constants behind a DQ.
Graph insert_qdq(const Graph& graph, const Plan& plan, const QuantizeOptions& options);

struct Result {
  Graph graph;
  // The same model before the passes folded the Q/DQ pairs: float ops between
  // QuantizeLinear/DequantizeLinear, as an ONNX QDQ file says it (--qdq-onnx).
  Graph qdq;
  Plan plan;
  // Names of the quantized nodes of the result (what fold_qdq folded).
  std::vector<std::string> quantized;
};

// plan_quantization, insert_qdq (kept as `qdq`), then the convert-time passes; the result is
// validated and runs on the reference and cpu backends (their int8 kernels).
Result quantize_graph(const Graph& graph, const Ranges& ranges, const QuantizeOptions& options);

}  // namespace kiln::quantize
