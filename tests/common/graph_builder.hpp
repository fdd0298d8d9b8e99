#pragma once
// A small helper for building Kiln graphs in tests: inputs, constants and nodes
// whose output shapes come from shape inference, plus constructors for the
// typed attribute tables and a deep comparison of two graphs.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

// base + decimal i, e.g. numbered("w", 3) == "w3". (Built with += because GCC 12
// warns falsely (-Wrestrict) about `"literal" + std::to_string(i)`.)
std::string numbered(std::string base, int64_t i);

// ---- Attribute tables ------------------------------------------------------
fb::FusedActivation act(fb::ActivationKind kind, float alpha = 0.0f, float beta = 0.0f);

fb::ConvAttrsT conv_attrs(std::vector<int32_t> kernel, std::vector<int32_t> strides = {},
                          std::vector<int32_t> pads = {}, std::vector<int32_t> dilations = {}, int32_t group = 1,
                          fb::FusedActivation activation = {});
fb::PoolAttrsT pool_attrs(std::vector<int32_t> kernel, std::vector<int32_t> strides = {},
                          std::vector<int32_t> pads = {}, std::vector<int32_t> dilations = {}, bool ceil_mode = false,
                          bool count_include_pad = false);
fb::BatchNormAttrsT batchnorm_attrs(float epsilon);
fb::ClipAttrsT clip_attrs(float min, float max);
fb::LeakyReluAttrsT leaky_relu_attrs(float alpha);
fb::HardSigmoidAttrsT hard_sigmoid_attrs(float alpha, float beta);
fb::BinaryAttrsT binary_attrs(fb::FusedActivation activation = {});
fb::GemmAttrsT gemm_attrs(float alpha = 1.0f, float beta = 1.0f, bool trans_a = false, bool trans_b = false,
                          fb::FusedActivation activation = {});
fb::FlattenAttrsT flatten_attrs(int32_t axis);
fb::ReshapeAttrsT reshape_attrs(std::vector<int64_t> shape);
fb::AxesAttrsT axes_attrs(std::vector<int32_t> axes);
fb::TransposeAttrsT transpose_attrs(std::vector<int32_t> perm);
fb::ConcatAttrsT concat_attrs(int32_t axis);
fb::SplitAttrsT split_attrs(int32_t axis, std::vector<int64_t> sizes);
fb::SliceAttrsT slice_attrs(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int32_t> axes,
                            std::vector<int64_t> steps);
fb::PadAttrsT pad_attrs(std::vector<int64_t> pads, float value = 0.0f);
fb::ReduceAttrsT reduce_attrs(std::vector<int32_t> axes, bool keepdims);
fb::SoftmaxAttrsT softmax_attrs(int32_t axis, bool over_trailing_axes = false);

// The attribute table an op takes, for ops whose table has no required
// fields (NONE for ops without attributes).
fb::AttributesUnion no_attrs();

// ---- Graph building --------------------------------------------------------
class GraphBuilder {
 public:
  TensorId input(const std::string& name, Shape shape);
  TensorId constant(const std::string& name, Shape shape, const std::vector<float>& values);
  // Uniform random values in [lo, hi) from `seed`.
  TensorId random_constant(const std::string& name, Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

  // Adds a node with `n_outputs` outputs, infers their shapes and returns them.
  std::vector<TensorId> node_n(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs, size_t n_outputs,
                               const std::string& name = {});
  // Single-output node.
  TensorId node(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs = {}, const std::string& name = {});
  template <class T>
  TensorId node(OpType op, std::vector<TensorId> inputs, T attrs, const std::string& name = {}) {
    return node(op, std::move(inputs), make_attrs(std::move(attrs)), name);
  }

  void output(TensorId t) { graph_.outputs.push_back(t); }

  Graph& graph() { return graph_; }
  const Graph& graph() const { return graph_; }
  // Runs validate_graph on a copy and returns it.
  Graph build() const;

 private:
  Graph graph_;
  int counter_ = 0;
};

// ---- Ready-made graphs -----------------------------------------------------
// A valid graph with one input "x" of shape [1, 4, 9, 9] and several outputs
// that uses every OpType at least once, each with non-default attributes, and
// whose nodes read constants (weights, BN statistics, broadcast operands). Its
// quantized tensors: a uint8 per-tensor QuantizeLinear -> DequantizeLinear
// pair on a constant (values on the quantization grid, so exact on every
// backend) and an int8 per-axis constant behind a DequantizeLinear.
Graph all_ops_graph();

// ---- Comparison ------------------------------------------------------------
// Deep equality: tensors (names, dtypes, quantization, shapes, constant bytes), nodes
// (names, ops, inputs, outputs, attribute tables), io lists, passes, info.
::testing::AssertionResult graphs_equal(const Graph& a, const Graph& b);

// Random inputs for every graph input, from `seed` (never all zeros).
std::vector<kiln::Tensor> random_inputs(const Graph& g, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace kiln::test
