#include "tests/common/graph_builder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"
#include "engine/core/validate.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {

std::string numbered(std::string base, int64_t i) {
  base += std::to_string(i);
  return base;
}

fb::FusedActivation act(fb::ActivationKind kind, float alpha, float beta) { return {kind, alpha, beta}; }

fb::ConvAttrsT conv_attrs(std::vector<int32_t> kernel, std::vector<int32_t> strides, std::vector<int32_t> pads,
                          std::vector<int32_t> dilations, int32_t group, fb::FusedActivation activation) {
  fb::ConvAttrsT a;
  a.kernel_shape = std::move(kernel);
  a.strides = std::move(strides);
  a.pads = std::move(pads);
  a.dilations = std::move(dilations);
  a.group = group;
  a.activation = activation;
  return a;
}

fb::PoolAttrsT pool_attrs(std::vector<int32_t> kernel, std::vector<int32_t> strides, std::vector<int32_t> pads,
                          std::vector<int32_t> dilations, bool ceil_mode, bool count_include_pad) {
  fb::PoolAttrsT a;
  a.kernel_shape = std::move(kernel);
  a.strides = std::move(strides);
  a.pads = std::move(pads);
  a.dilations = std::move(dilations);
  a.ceil_mode = ceil_mode;
  a.count_include_pad = count_include_pad;
  return a;
}

fb::BatchNormAttrsT batchnorm_attrs(float epsilon) {
  fb::BatchNormAttrsT a;
  a.epsilon = epsilon;
  return a;
}

fb::ClipAttrsT clip_attrs(float min, float max) {
  fb::ClipAttrsT a;
  a.min = min;
  a.max = max;
  return a;
}

fb::LeakyReluAttrsT leaky_relu_attrs(float alpha) {
  fb::LeakyReluAttrsT a;
  a.alpha = alpha;
  return a;
}

fb::HardSigmoidAttrsT hard_sigmoid_attrs(float alpha, float beta) {
  fb::HardSigmoidAttrsT a;
  a.alpha = alpha;
  a.beta = beta;
  return a;
}

fb::BinaryAttrsT binary_attrs(fb::FusedActivation activation) {
  fb::BinaryAttrsT a;
  a.activation = activation;
  return a;
}

fb::GemmAttrsT gemm_attrs(float alpha, float beta, bool trans_a, bool trans_b, fb::FusedActivation activation) {
  fb::GemmAttrsT a;
  a.alpha = alpha;
  a.beta = beta;
  a.trans_a = trans_a;
  a.trans_b = trans_b;
  a.activation = activation;
  return a;
}

fb::FlattenAttrsT flatten_attrs(int32_t axis) {
  fb::FlattenAttrsT a;
  a.axis = axis;
  return a;
}

fb::ReshapeAttrsT reshape_attrs(std::vector<int64_t> shape) {
  fb::ReshapeAttrsT a;
  a.shape = std::move(shape);
  return a;
}

fb::AxesAttrsT axes_attrs(std::vector<int32_t> axes) {
  fb::AxesAttrsT a;
  a.axes = std::move(axes);
  return a;
}

fb::TransposeAttrsT transpose_attrs(std::vector<int32_t> perm) {
  fb::TransposeAttrsT a;
  a.perm = std::move(perm);
  return a;
}

fb::ConcatAttrsT concat_attrs(int32_t axis) {
  fb::ConcatAttrsT a;
  a.axis = axis;
  return a;
}

fb::SplitAttrsT split_attrs(int32_t axis, std::vector<int64_t> sizes) {
  fb::SplitAttrsT a;
  a.axis = axis;
  a.sizes = std::move(sizes);
  return a;
}

fb::SliceAttrsT slice_attrs(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int32_t> axes,
                            std::vector<int64_t> steps) {
  fb::SliceAttrsT a;
  a.starts = std::move(starts);
  a.ends = std::move(ends);
  a.axes = std::move(axes);
  a.steps = std::move(steps);
  return a;
}

fb::PadAttrsT pad_attrs(std::vector<int64_t> pads, float value) {
  fb::PadAttrsT a;
  a.pads = std::move(pads);
  a.value = value;
  return a;
}

fb::ReduceAttrsT reduce_attrs(std::vector<int32_t> axes, bool keepdims) {
  fb::ReduceAttrsT a;
  a.axes = std::move(axes);
  a.keepdims = keepdims;
  return a;
}

fb::SoftmaxAttrsT softmax_attrs(int32_t axis, bool over_trailing_axes) {
  fb::SoftmaxAttrsT a;
  a.axis = axis;
  a.over_trailing_axes = over_trailing_axes;
  return a;
}

fb::AttributesUnion no_attrs() { return {}; }

TensorId GraphBuilder::input(const std::string& name, Shape shape) {
  const TensorId id = graph_.add_tensor(name, std::move(shape));
  graph_.inputs.push_back(id);
  return id;
}

TensorId GraphBuilder::constant(const std::string& name, Shape shape, const std::vector<float>& values) {
  if (static_cast<int64_t>(values.size()) != element_count(shape))
    throw std::invalid_argument("constant '" + name + "': " + std::to_string(values.size()) + " values for shape " +
                                shape_to_string(shape));
  return graph_.add_constant(name, std::move(shape), ConstantData::from_floats(values));
}

TensorId GraphBuilder::random_constant(const std::string& name, Shape shape, uint32_t seed, float lo, float hi) {
  const auto values = random_values(static_cast<size_t>(element_count(shape)), seed, lo, hi);
  return constant(name, std::move(shape), values);
}

std::vector<TensorId> GraphBuilder::node_n(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs,
                                           size_t n_outputs, const std::string& name) {
  Node n;
  n.name = name.empty() ? numbered(std::string(op_name(op)) + "_", counter_) : name;
  ++counter_;
  n.op = op;
  n.inputs = std::move(inputs);
  // Ops with an attribute table get a default one unless the caller gave one.
  if (attrs.type == fb::Attributes::NONE) {
    switch (op_info(op).attributes) {
      case fb::Attributes::BatchNormAttrs: attrs.Set(fb::BatchNormAttrsT{}); break;
      case fb::Attributes::ClipAttrs: attrs.Set(fb::ClipAttrsT{}); break;
      case fb::Attributes::LeakyReluAttrs: attrs.Set(fb::LeakyReluAttrsT{}); break;
      case fb::Attributes::HardSigmoidAttrs: attrs.Set(fb::HardSigmoidAttrsT{}); break;
      case fb::Attributes::BinaryAttrs: attrs.Set(fb::BinaryAttrsT{}); break;
      case fb::Attributes::GemmAttrs: attrs.Set(fb::GemmAttrsT{}); break;
      case fb::Attributes::FlattenAttrs: attrs.Set(fb::FlattenAttrsT{}); break;
      default: break;
    }
  }
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < n_outputs; ++i)
    n.outputs.push_back(graph_.add_tensor(n_outputs == 1 ? n.name + "_out" : numbered(n.name + "_out", static_cast<int64_t>(i))));
  const std::vector<Shape> shapes = infer_output_shapes(graph_, n);
  for (size_t i = 0; i < shapes.size() && i < n.outputs.size(); ++i) graph_.tensor(n.outputs[i]).shape = shapes[i];
  std::vector<TensorId> outs = n.outputs;
  graph_.nodes.push_back(std::move(n));
  return outs;
}

TensorId GraphBuilder::node(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs,
                            const std::string& name) {
  return node_n(op, std::move(inputs), std::move(attrs), 1, name).front();
}

Graph GraphBuilder::build() const {
  Graph g = graph_;
  validate_graph(g);
  return g;
}

Graph all_ops_graph() {
  using O = OpType;
  using K = fb::ActivationKind;
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 4, 9, 9});
  const TensorId w1 = b.random_constant("w1", {6, 2, 3, 3}, 101);
  const TensorId b1 = b.random_constant("b1", {6}, 102);
  // [1,6,5,6]: H = (9+1+2-3)/2+1, W = (9+0+1-5)/1+1
  const TensorId c1 =
      b.node(O::Conv, {x, w1, b1}, conv_attrs({3, 3}, {2, 1}, {1, 0, 2, 1}, {1, 2}, 2, act(K::Clip, 0.0f, 6.0f)));
  const TensorId gamma = b.random_constant("bn_gamma", {6}, 103, 0.5f, 1.5f);
  const TensorId beta = b.random_constant("bn_beta", {6}, 104);
  const TensorId mean = b.random_constant("bn_mean", {6}, 105);
  const TensorId var = b.random_constant("bn_var", {6}, 106, 0.5f, 1.5f);
  TensorId t = b.node(O::BatchNormalization, {c1, gamma, beta, mean, var}, batchnorm_attrs(1e-3f));
  t = b.node(O::Relu, {t});
  t = b.node(O::Clip, {t}, clip_attrs(-0.5f, 0.75f));
  t = b.node(O::LeakyRelu, {t}, leaky_relu_attrs(0.2f));
  t = b.node(O::Sigmoid, {t});
  t = b.node(O::HardSigmoid, {t}, hard_sigmoid_attrs(0.3f, 0.4f));
  t = b.node(O::HardSwish, {t});
  t = b.node(O::Tanh, {t});
  // k1 through QuantizeLinear (uint8, scale 1/128, zero point 100) and
  // DequantizeLinear: its values lie on the 1/128 grid, so the round trip is
  // exact on every backend (float backends turn Q into a Clip) except for the
  // values below -100/128, which saturate alike everywhere.
  std::vector<float> k1_values = random_values(6, 107);
  for (float& v : k1_values) v = std::round(v * 128.0f) / 128.0f;
  const TensorId k1 = b.constant("k1", {6, 1, 1}, k1_values);
  const TensorId k1q = b.node(O::QuantizeLinear, {k1});
  b.graph().tensor(k1q).dtype = DataType::UInt8;
  b.graph().tensor(k1q).quant = QuantParams{{1.0f / 128}, {100}, -1};
  const TensorId k1dq = b.node(O::DequantizeLinear, {k1q});
  t = b.node(O::Add, {t, k1dq}, binary_attrs(act(K::Relu)));
  const TensorId k2 = b.random_constant("k2", {6}, 108);
  t = b.node(O::Sub, {t, k2}, binary_attrs(act(K::LeakyRelu, 0.1f)));
  const TensorId k3 = b.random_constant("k3", {1, 1, 5, 1}, 109);
  t = b.node(O::Mul, {k3, t}, binary_attrs(act(K::HardSigmoid, 0.25f, 0.5f)));
  const TensorId k4 = b.random_constant("k4", {1}, 110, 1.0f, 2.0f);
  const TensorId dv = b.node(O::Div, {t, k4}, binary_attrs(act(K::Tanh)));
  // [1,6,3,3] and [1,6,5,3]
  const TensorId mp = b.node(O::MaxPool, {dv}, pool_attrs({2, 2}, {2, 2}, {0, 1, 1, 0}, {1, 2}, true, false));
  const TensorId ap = b.node(O::AveragePool, {dv}, pool_attrs({3, 2}, {1, 2}, {1, 0, 1, 1}, {}, true, true));
  const TensorId gap = b.node(O::GlobalAveragePool, {mp});
  const TensorId gmp = b.node(O::GlobalMaxPool, {ap});
  const TensorId fl = b.node(O::Flatten, {gap}, flatten_attrs(0));   // [1,6]
  const TensorId fl2 = b.node(O::Flatten, {gmp}, flatten_attrs(2));  // [6,1]
  const TensorId gb = b.random_constant("gemm_b", {5, 6}, 111);
  const TensorId gc = b.random_constant("gemm_c", {5}, 112);
  const TensorId gm = b.node(O::Gemm, {fl, gb, gc}, gemm_attrs(0.5f, 2.0f, false, true, act(K::Sigmoid)));  // [1,5]
  const TensorId gb2 = b.random_constant("gemm2_b", {6, 3}, 113);
  const TensorId gm2 = b.node(O::Gemm, {fl2, gb2}, gemm_attrs(1.5f, 1.0f, true, false, act(K::HardSwish)));  // [1,3]
  // The MatMul weight: an int8 constant quantized per column (axis 1), dequantized.
  const std::vector<float> mb_values = random_values(15, 114, -128.0f, 128.0f);
  std::vector<int8_t> mb_bytes;
  for (float v : mb_values) mb_bytes.push_back(static_cast<int8_t>(std::clamp(std::floor(v), -128.0f, 127.0f)));
  const TensorId mb_q = b.graph().add_constant("matmul_b_q", {5, 3}, DataType::Int8,
                                               ConstantData::copy_of(mb_bytes.data(), mb_bytes.size()),
                                               QuantParams{{0.01f, 0.02f, 0.005f}, {0, -3, 7}, 1});
  const TensorId mb = b.node(O::DequantizeLinear, {mb_q});
  const TensorId mm = b.node(O::MatMul, {gm, mb});                                   // [1,3]
  const TensorId rs = b.node(O::Reshape, {mm}, reshape_attrs({3, 1}));              // [3,1]
  const TensorId tr = b.node(O::Transpose, {rs}, transpose_attrs({1, 0}));          // [1,3]
  const TensorId us = b.node(O::Unsqueeze, {tr}, axes_attrs({0, 2}));               // [1,1,1,3]
  const TensorId sq = b.node(O::Squeeze, {us}, axes_attrs({0, 2}));                 // [1,3]
  const TensorId cat = b.node(O::Concat, {sq, gm2, tr}, concat_attrs(1));           // [1,9]
  const auto sp = b.node_n(O::Split, {cat}, make_attrs(split_attrs(1, {2, 3, 4})), 3);
  const TensorId sl = b.node(O::Slice, {sp[2]}, slice_attrs({0, 3}, {1, 0}, {0, 1}, {1, -2}));  // [1,2]
  const TensorId pd = b.node(O::Pad, {sl}, pad_attrs({1, 2, 0, 1}, 1.5f));                      // [2,5]
  const TensorId rm = b.node(O::ReduceMean, {pd}, reduce_attrs({1}, false));                    // [2]
  const TensorId sm = b.node(O::Softmax, {pd}, softmax_attrs(0, true));                         // [2,5]
  const TensorId id = b.node(O::Identity, {sm});
  const TensorId dp = b.node(O::Dropout, {id});
  b.output(dp);
  b.output(rm);
  b.output(sp[0]);
  b.output(sp[1]);
  b.graph().producer = "kiln tests";
  return b.build();
}

::testing::AssertionResult graphs_equal(const Graph& a, const Graph& b) {
  auto fail = [] { return ::testing::AssertionFailure(); };
  if (a.tensors.size() != b.tensors.size())
    return fail() << "tensor count " << a.tensors.size() << " vs " << b.tensors.size();
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const TensorInfo& x = a.tensors[i];
    const TensorInfo& y = b.tensors[i];
    if (x.name != y.name) return fail() << "tensor " << i << " name '" << x.name << "' vs '" << y.name << "'";
    if (x.dtype != y.dtype) return fail() << "tensor '" << x.name << "' dtype differs";
    if (x.quant != y.quant)
      return fail() << "tensor '" << x.name << "' quantization " << describe_dtype(x.dtype, x.quant) << " vs "
                    << describe_dtype(y.dtype, y.quant);
    if (x.shape != y.shape)
      return fail() << "tensor '" << x.name << "' shape " << shape_to_string(x.shape) << " vs "
                    << shape_to_string(y.shape);
    if (x.is_constant() != y.is_constant()) return fail() << "tensor '" << x.name << "' constness differs";
    if (x.is_constant()) {
      if (x.constant->size_bytes() != y.constant->size_bytes())
        return fail() << "constant '" << x.name << "' size " << x.constant->size_bytes() << " vs "
                      << y.constant->size_bytes();
      if (x.constant->size_bytes() &&
          std::memcmp(x.constant->bytes(), y.constant->bytes(), x.constant->size_bytes()) != 0)
        return fail() << "constant '" << x.name << "' bytes differ";
    }
  }
  if (a.nodes.size() != b.nodes.size()) return fail() << "node count " << a.nodes.size() << " vs " << b.nodes.size();
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node& x = a.nodes[i];
    const Node& y = b.nodes[i];
    if (x.name != y.name) return fail() << "node " << i << " name '" << x.name << "' vs '" << y.name << "'";
    if (x.op != y.op) return fail() << "node '" << x.name << "' op " << op_name(x.op) << " vs " << op_name(y.op);
    if (x.inputs != y.inputs) return fail() << "node '" << x.name << "' inputs differ";
    if (x.outputs != y.outputs) return fail() << "node '" << x.name << "' outputs differ";
    if (x.attrs.type != y.attrs.type)
      return fail() << "node '" << x.name << "' attribute table " << fb::EnumNameAttributes(x.attrs.type) << " vs "
                    << fb::EnumNameAttributes(y.attrs.type);
    if (!(x.attrs == y.attrs)) return fail() << "node '" << x.name << "' attributes differ";
  }
  if (a.inputs != b.inputs) return fail() << "graph inputs differ";
  if (a.outputs != b.outputs) return fail() << "graph outputs differ";
  if (a.passes_applied != b.passes_applied) return fail() << "passes_applied differ";
  if (!(a.info == b.info)) return fail() << "model info differs";
  if (a.producer != b.producer) return fail() << "producer '" << a.producer << "' vs '" << b.producer << "'";
  return ::testing::AssertionSuccess();
}

std::vector<kiln::Tensor> random_inputs(const Graph& g, uint32_t seed, float lo, float hi) {
  std::vector<kiln::Tensor> inputs;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    inputs.push_back(random_tensor(g.shape(g.inputs[i]), seed + static_cast<uint32_t>(i) * 7919u, lo, hi));
  return inputs;
}

}  // namespace kiln::test
