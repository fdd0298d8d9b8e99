// Each op family: the ONNX node imports to the expected Kiln node and
// attributes, and the imported graph computes hand-worked values on the
// reference backend.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "engine/core/graph.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

using F = onnx::TensorProto;

ConvertOptions unoptimised() {
  ConvertOptions o;
  o.optimize = false;
  return o;
}

// The one node of `op` in the graph.
const Node& node_of(const Graph& g, OpType op) {
  const Node* found = nullptr;
  for (const Node& n : g.nodes)
    if (n.op == op) {
      EXPECT_EQ(found, nullptr) << "more than one " << fb::EnumNameOpType(op);
      found = &n;
    }
  if (!found) throw std::runtime_error(std::string("no ") + fb::EnumNameOpType(op) + " node");
  return *found;
}

::testing::AssertionResult values_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  if (static_cast<size_t>(t.size()) != want.size())
    return ::testing::AssertionFailure() << "size " << t.size() << ", expected " << want.size();
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(t.data()[i] - want[i]) <= tol * std::max(1.0f, std::fabs(want[i]))))
      return ::testing::AssertionFailure() << "element " << i << " is " << t.data()[i] << ", expected " << want[i];
  return ::testing::AssertionSuccess();
}

std::vector<float> iota(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<float>(i);
  return v;
}

// ---- Conv ------------------------------------------------------------------

TEST(ConverterOps, ConvStridesPadsBias) {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4}).output("y");
  std::vector<float> w(9, 1.0f);
  std::vector<float> centre(9, 0.0f);
  centre[4] = 1.0f;
  w.insert(w.end(), centre.begin(), centre.end());
  b.initializer("w", {2, 1, 3, 3}, w).initializer("bias", {2}, {0.5f, -1.0f});
  auto& n = b.node("Conv", {"x", "w", "bias"}, {"y"}, "conv1");
  attr_ints(n, "strides", {2, 2});
  attr_ints(n, "pads", {1, 1, 1, 1});
  const Graph g = b.import(unoptimised());
  const Node& conv = node_of(g, OpType::Conv);
  EXPECT_EQ(conv.name, "conv1");
  const auto& a = attrs_as<fb::ConvAttrsT>(conv);
  EXPECT_EQ(a.kernel_shape, (std::vector<int32_t>{3, 3}));
  EXPECT_EQ(a.strides, (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(a.pads, (std::vector<int32_t>{1, 1, 1, 1}));
  EXPECT_EQ(a.dilations, (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(a.group, 1);
  EXPECT_TRUE(g.tensor(conv.inputs[1]).is_constant());
  EXPECT_EQ(g.tensor(conv.inputs[1]).name, "w");
  // x = 0..15 row-major. Channel 0 sums the valid 3x3 window, channel 1 picks its centre.
  const Tensor y = run_model(g, {tensor_of({1, 1, 4, 4}, iota(16))})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
  EXPECT_TRUE(values_near(y, {10.5f, 24.5f, 51.5f, 90.5f, -1.0f, 1.0f, 7.0f, 9.0f}));
}

TEST(ConverterOps, ConvGroupsAndDilation) {
  OnnxBuilder b;
  b.input("x", {1, 2, 3, 3}).output("y");
  b.initializer("w", {2, 1, 2, 2}, std::vector<float>(8, 1.0f));
  auto& n = b.node("Conv", {"x", "w"}, {"y"});
  attr_i(n, "group", 2);
  attr_ints(n, "dilations", {2, 2});
  const Graph g = b.import(unoptimised());
  const auto& a = attrs_as<fb::ConvAttrsT>(node_of(g, OpType::Conv));
  EXPECT_EQ(a.group, 2);
  EXPECT_EQ(a.dilations, (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(node_of(g, OpType::Conv).name, "Conv_0") << "unnamed nodes are called <OpType>_<index>";
  // Each channel: the sum of its 3x3 plane's corners.
  const Tensor y = run_model(g, {tensor_of({1, 2, 3, 3}, iota(18))})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_TRUE(values_near(y, {0 + 2 + 6 + 8, 9 + 11 + 15 + 17}));
}

TEST(ConverterOps, Conv1dAnd3d) {
  OnnxBuilder b1;
  b1.input("x", {1, 1, 5}).output("y");
  b1.initializer("w", {1, 1, 2}, {1.0f, -1.0f});
  b1.node("Conv", {"x", "w"}, {"y"});
  const Tensor y1 = run_model(b1.import(), {tensor_of({1, 1, 5}, {1, 4, 9, 16, 25})})[0];
  EXPECT_TRUE(values_near(y1, {-3, -5, -7, -9}));

  OnnxBuilder b3;
  b3.input("x", {1, 1, 2, 2, 2}).output("y");
  b3.initializer("w", {1, 1, 2, 2, 2}, std::vector<float>(8, 1.0f));
  b3.node("Conv", {"x", "w"}, {"y"});
  const Tensor y3 = run_model(b3.import(), {tensor_of({1, 1, 2, 2, 2}, iota(8))})[0];
  EXPECT_EQ(y3.shape(), (Shape{1, 1, 1, 1, 1}));
  EXPECT_TRUE(values_near(y3, {28}));
}

// ---- auto_pad ----------------------------------------------------------------

std::vector<int32_t> auto_pads(const std::string& op, const std::string& mode, std::vector<int64_t> in,
                               std::vector<int64_t> kernel, std::vector<int64_t> strides, Shape* out_shape = nullptr) {
  OnnxBuilder b;
  b.input("x", in).output("y");
  std::vector<int64_t> wshape = {1, 1};
  wshape.insert(wshape.end(), kernel.begin(), kernel.end());
  int64_t taps = 1;
  for (int64_t k : kernel) taps *= k;
  std::vector<std::string> inputs = {"x"};
  if (op == "Conv") {
    b.initializer("w", wshape, std::vector<float>(static_cast<size_t>(taps), 1.0f));
    inputs.push_back("w");
  }
  auto& n = b.node(op, inputs, {"y"});
  attr_s(n, "auto_pad", mode);
  if (op != "Conv") attr_ints(n, "kernel_shape", kernel);
  attr_ints(n, "strides", strides);
  const Graph g = b.import(unoptimised());
  const Node& node = g.nodes.at(0);
  if (out_shape) *out_shape = g.shape(node.outputs[0]);
  return op == "Conv" ? attrs_as<fb::ConvAttrsT>(node).pads : attrs_as<fb::PoolAttrsT>(node).pads;
}

TEST(ConverterOps, AutoPadResolvesToExplicitPads) {
  Shape out;
  // 4x4, kernel 2, stride 1: one pixel of padding, at the end (UPPER) or start (LOWER).
  EXPECT_EQ(auto_pads("Conv", "SAME_UPPER", {1, 1, 4, 4}, {2, 2}, {1, 1}, &out), (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(out, (Shape{1, 1, 4, 4}));
  EXPECT_EQ(auto_pads("Conv", "SAME_LOWER", {1, 1, 4, 4}, {2, 2}, {1, 1}), (std::vector<int32_t>{1, 1, 0, 0}));
  EXPECT_EQ(auto_pads("Conv", "VALID", {1, 1, 4, 4}, {2, 2}, {1, 1}, &out), (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(out, (Shape{1, 1, 3, 3}));
  // 5 wide, kernel 3, stride 2: output 3 needs 2 pixels, one each side.
  EXPECT_EQ(auto_pads("MaxPool", "SAME_UPPER", {1, 1, 5, 5}, {3, 3}, {2, 2}, &out),
            (std::vector<int32_t>{1, 1, 1, 1}));
  EXPECT_EQ(out, (Shape{1, 1, 3, 3}));
  // 7x6, kernel 3, stride 2: H needs 2 (1+1), W needs 1 (SAME_LOWER: at the start).
  EXPECT_EQ(auto_pads("AveragePool", "SAME_LOWER", {1, 1, 7, 6}, {3, 3}, {2, 2}, &out),
            (std::vector<int32_t>{1, 1, 1, 0}));
  EXPECT_EQ(out, (Shape{1, 1, 4, 3}));
}

TEST(ConverterOps, AutoPadSameUpperValues) {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4}).output("y");
  b.initializer("w", {1, 1, 2, 2}, std::vector<float>(4, 1.0f));
  attr_s(b.node("Conv", {"x", "w"}, {"y"}), "auto_pad", "SAME_UPPER");
  const Tensor y = run_model(b.import(), {tensor_of({1, 1, 4, 4}, iota(16))})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_FLOAT_EQ(y.data()[0], 0 + 1 + 4 + 5);
  EXPECT_FLOAT_EQ(y.data()[3], 3 + 7);      // right edge: padding at the end
  EXPECT_FLOAT_EQ(y.data()[15], 15);        // bottom-right corner
}

// ---- Pooling -----------------------------------------------------------------

TEST(ConverterOps, MaxAndAveragePool) {
  for (const char* op : {"MaxPool", "AveragePool"}) {
    OnnxBuilder b(12);
    b.input("x", {1, 1, 4, 4}).output("y");
    auto& n = b.node(op, {"x"}, {"y"});
    attr_ints(n, "kernel_shape", {2, 2});
    attr_ints(n, "strides", {2, 2});
    const Graph g = b.import();
    const Node& pool = g.nodes.at(0);
    EXPECT_EQ(pool.op, std::string(op) == "MaxPool" ? OpType::MaxPool : OpType::AveragePool);
    EXPECT_EQ(attrs_as<fb::PoolAttrsT>(pool).kernel_shape, (std::vector<int32_t>{2, 2}));
    const Tensor y = run_model(g, {tensor_of({1, 1, 4, 4}, iota(16))})[0];
    const std::vector<float> want = std::string(op) == "MaxPool" ? std::vector<float>{5, 7, 13, 15}
                                                                 : std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f};
    EXPECT_TRUE(values_near(y, want)) << op;
  }
}

TEST(ConverterOps, AveragePoolCountIncludePad) {
  for (int include : {0, 1}) {
    OnnxBuilder b(11);
    b.input("x", {1, 1, 4, 4}).output("y");
    auto& n = b.node("AveragePool", {"x"}, {"y"});
    attr_ints(n, "kernel_shape", {3, 3});
    attr_ints(n, "strides", {2, 2});
    attr_ints(n, "pads", {1, 1, 1, 1});
    attr_i(n, "count_include_pad", include);
    const Graph g = b.import();
    EXPECT_EQ(attrs_as<fb::PoolAttrsT>(g.nodes.at(0)).count_include_pad, include == 1);
    const Tensor y = run_model(g, {tensor_of({1, 1, 4, 4}, iota(16))})[0];
    // Top-left window: 0+1+4+5 over 4 valid taps, or over all 9 with padding.
    EXPECT_NEAR(y.data()[0], include ? 10.0f / 9 : 2.5f, 1e-6) << "count_include_pad=" << include;
  }
}

TEST(ConverterOps, MaxPoolCeilMode) {
  OnnxBuilder b(12);
  b.input("x", {1, 1, 4, 4}).output("y");
  auto& n = b.node("MaxPool", {"x"}, {"y", ""});
  attr_ints(n, "kernel_shape", {3, 3});
  attr_ints(n, "strides", {2, 2});
  attr_i(n, "ceil_mode", 1);
  const Graph g = b.import();
  EXPECT_TRUE(attrs_as<fb::PoolAttrsT>(g.nodes.at(0)).ceil_mode);
  const Tensor y = run_model(g, {tensor_of({1, 1, 4, 4}, iota(16))})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_TRUE(values_near(y, {10, 11, 14, 15}));
}

TEST(ConverterOps, GlobalPools) {
  OnnxBuilder b;
  b.input("x", {1, 2, 2, 2}).output("avg").output("max");
  b.node("GlobalAveragePool", {"x"}, {"avg"});
  b.node("GlobalMaxPool", {"x"}, {"max"});
  const Graph g = b.import();
  const auto y = run_model(g, {tensor_of({1, 2, 2, 2}, {1, 2, 3, 6, -1, -2, -3, -4})});
  EXPECT_EQ(y[0].shape(), (Shape{1, 2, 1, 1}));
  EXPECT_TRUE(values_near(y[0], {3, -2.5f}));
  EXPECT_TRUE(values_near(y[1], {6, -1}));
}

// ---- BatchNormalization and activations --------------------------------------

TEST(ConverterOps, BatchNormalization) {
  OnnxBuilder b(15);
  b.input("x", {1, 2, 1, 2}).output("y");
  b.initializer("scale", {2}, {1, 2}).initializer("bias", {2}, {0, 1});
  b.initializer("mean", {2}, {1, 0}).initializer("var", {2}, {4, 1});
  attr_f(b.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"}), "epsilon", 0.0f);
  const Graph g = b.import(unoptimised());
  EXPECT_EQ(attrs_as<fb::BatchNormAttrsT>(node_of(g, OpType::BatchNormalization)).epsilon, 0.0f);
  // Channel 0: (x - 1) / 2; channel 1: 2x + 1.
  const Tensor y = run_model(g, {tensor_of({1, 2, 1, 2}, {3, 5, 1, -1})})[0];
  EXPECT_TRUE(values_near(y, {1, 2, 3, -1}));
}

TEST(ConverterOps, Activations) {
  const std::vector<float> x = {-2, -0.5f, 0, 1, 3};
  struct Case {
    const char* op;
    OpType kiln;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {"Relu", OpType::Relu, {0, 0, 0, 1, 3}},
      {"LeakyRelu", OpType::LeakyRelu, {-0.2f, -0.05f, 0, 1, 3}},
      {"HardSigmoid", OpType::HardSigmoid, {0, 0, 0.25f, 0.75f, 1}},
      {"HardSwish", OpType::HardSwish, {-1.0f / 3, -0.5f * (5.0f / 12), 0, 2.0f / 3, 3}},
      {"Sigmoid", OpType::Sigmoid, {0.1192029f, 0.3775407f, 0.5f, 0.7310586f, 0.9525741f}},
      {"Tanh", OpType::Tanh, {-0.9640276f, -0.4621172f, 0, 0.7615942f, 0.9950548f}},
  };
  for (const Case& c : cases) {
    OnnxBuilder b(14);
    b.input("x", {5}).output("y");
    auto& n = b.node(c.op, {"x"}, {"y"});
    if (c.kiln == OpType::LeakyRelu) attr_f(n, "alpha", 0.1f);
    if (c.kiln == OpType::HardSigmoid) {
      attr_f(n, "alpha", 0.5f);
      attr_f(n, "beta", 0.25f);
    }
    const Graph g = b.import();
    ASSERT_EQ(g.nodes.size(), 1u) << c.op;
    EXPECT_EQ(g.nodes[0].op, c.kiln) << c.op;
    if (c.kiln == OpType::LeakyRelu) {
      EXPECT_FLOAT_EQ(attrs_as<fb::LeakyReluAttrsT>(g.nodes[0]).alpha, 0.1f);
    }
    if (c.kiln == OpType::HardSigmoid) {
      EXPECT_FLOAT_EQ(attrs_as<fb::HardSigmoidAttrsT>(g.nodes[0]).beta, 0.25f);
    }
    EXPECT_TRUE(values_near(run_model(g, {tensor_of({5}, x)})[0], c.want, 1e-5f)) << c.op;
  }
}

TEST(ConverterOps, ActivationDefaults) {
  OnnxBuilder b(14);
  b.input("x", {2}).output("y").output("z");
  b.node("LeakyRelu", {"x"}, {"y"});
  b.node("HardSigmoid", {"x"}, {"z"});
  const Graph g = b.import();
  EXPECT_FLOAT_EQ(attrs_as<fb::LeakyReluAttrsT>(node_of(g, OpType::LeakyRelu)).alpha, 0.01f);
  EXPECT_FLOAT_EQ(attrs_as<fb::HardSigmoidAttrsT>(node_of(g, OpType::HardSigmoid)).alpha, 0.2f);
  EXPECT_FLOAT_EQ(attrs_as<fb::HardSigmoidAttrsT>(node_of(g, OpType::HardSigmoid)).beta, 0.5f);
}

// ---- Binary ops -------------------------------------------------------------

TEST(ConverterOps, BinaryOpsBroadcast) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::map<std::string, std::vector<float>> want = {
      {"Add", {2, 4, 7, 5, 7, 10}},
      {"Sub", {0, 0, -1, 3, 3, 2}},
      {"Mul", {1, 4, 12, 4, 10, 24}},
      {"Div", {1, 1, 0.75f, 4, 2.5f, 1.5f}},
  };
  for (const auto& [op, values] : want) {
    OnnxBuilder b(14);
    b.input("x", {2, 3}).output("z");
    b.initializer("y", {3}, {1, 2, 4});
    b.node(op, {"x", "y"}, {"z"});
    const Graph g = b.import();
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(std::string(fb::EnumNameOpType(g.nodes[0].op)), op);
    EXPECT_EQ(g.nodes[0].attrs.type, fb::Attributes::BinaryAttrs);
    EXPECT_TRUE(values_near(run_model(g, {tensor_of({2, 3}, x)})[0], values)) << op;
  }
}

TEST(ConverterOps, BinaryBothInputsBroadcast) {
  OnnxBuilder b;
  b.input("a", {2, 1}).input("b", {1, 3}).output("c");
  b.node("Mul", {"a", "b"}, {"c"});
  const Tensor c = run_model(b.import(), {tensor_of({2, 1}, {1, 2}), tensor_of({1, 3}, {1, 10, 100})})[0];
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_TRUE(values_near(c, {1, 10, 100, 2, 20, 200}));
}

TEST(ConverterOps, LegacyBroadcastWithAxis) {
  // Opset 6: B of shape [3] lines up with axis 1 of A [2, 3, 2].
  OnnxBuilder b(6);
  b.input("a", {2, 3, 2}).output("c");
  b.initializer("b", {3}, {10, 20, 30});
  auto& n = b.node("Add", {"a", "b"}, {"c"});
  attr_i(n, "broadcast", 1);
  attr_i(n, "axis", 1);
  const Tensor c = run_model(b.import(), {tensor_of({2, 3, 2}, iota(12))})[0];
  EXPECT_TRUE(values_near(c, {10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41}));
}

// ---- Gemm, MatMul ------------------------------------------------------------

TEST(ConverterOps, GemmAttributes) {
  OnnxBuilder b;
  b.input("a", {2, 3}).output("y");
  b.initializer("b", {4, 3}, {1, 1, 1, 0, 1, 0, 2, 0, 0, 0, 0, 1});
  b.initializer("c", {4}, {1, 2, 3, 4});
  auto& n = b.node("Gemm", {"a", "b", "c"}, {"y"});
  attr_f(n, "alpha", 2.0f);
  attr_f(n, "beta", 0.5f);
  attr_i(n, "transB", 1);
  const Graph g = b.import();
  const auto& a = attrs_as<fb::GemmAttrsT>(node_of(g, OpType::Gemm));
  EXPECT_FLOAT_EQ(a.alpha, 2.0f);
  EXPECT_FLOAT_EQ(a.beta, 0.5f);
  EXPECT_FALSE(a.trans_a);
  EXPECT_TRUE(a.trans_b);
  const Tensor y = run_model(g, {tensor_of({2, 3}, {1, 0, 2, 0, 1, 1})})[0];
  EXPECT_TRUE(values_near(y, {6.5f, 1, 5.5f, 6, 4.5f, 3, 1.5f, 4}));
}

TEST(ConverterOps, MatMulBatched) {
  OnnxBuilder b;
  b.input("a", {2, 1, 2}).output("y");
  b.initializer("b", {2, 2}, {0, 1, 1, 0});
  b.node("MatMul", {"a", "b"}, {"y"});
  const Graph g = b.import();
  EXPECT_EQ(node_of(g, OpType::MatMul).attrs.type, fb::Attributes::NONE);
  const Tensor y = run_model(g, {tensor_of({2, 1, 2}, {1, 2, 3, 4})})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 1, 2}));
  EXPECT_TRUE(values_near(y, {2, 1, 4, 3}));
}

// ---- Data movement -----------------------------------------------------------

TEST(ConverterOps, FlattenAxes) {
  for (auto [axis, want] : std::vector<std::pair<int64_t, Shape>>{{2, {6, 4}}, {-1, {12, 2}}, {0, {1, 24}}}) {
    OnnxBuilder b;
    b.input("x", {2, 3, 2, 2}).output("y");
    attr_i(b.node("Flatten", {"x"}, {"y"}), "axis", axis);
    const Graph g = b.import();
    EXPECT_EQ(attrs_as<fb::FlattenAttrsT>(g.nodes.at(0)).axis, axis < 0 ? 4 + axis : axis);
    EXPECT_EQ(g.shape(g.outputs[0]), want) << "axis " << axis;
  }
}

TEST(ConverterOps, ReshapeZeroAndMinusOne) {
  OnnxBuilder b(14);
  b.input("x", {2, 3, 4}).output("y");
  b.initializer_i64("shape", {3}, {-1, 0, 2});
  b.node("Reshape", {"x", "shape"}, {"y"});
  const Graph g = b.import();
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(node_of(g, OpType::Reshape)).shape, (Shape{4, 3, 2}));
  const Tensor y = run_model(g, {tensor_of({2, 3, 4}, iota(24))})[0];
  EXPECT_EQ(y.shape(), (Shape{4, 3, 2}));
  EXPECT_TRUE(values_near(y, iota(24)));
}

TEST(ConverterOps, ReshapeAllowZero) {
  OnnxBuilder b(14);
  b.input("x", {0, 3}).output("y");
  b.initializer_i64("shape", {2}, {3, 0});
  attr_i(b.node("Reshape", {"x", "shape"}, {"y"}), "allowzero", 1);
  const Graph g = b.import();
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(node_of(g, OpType::Reshape)).shape, (Shape{3, 0}));
}

TEST(ConverterOps, TransposeDefaultAndExplicit) {
  OnnxBuilder b;
  b.input("x", {2, 3}).output("t").output("u");
  b.node("Transpose", {"x"}, {"t"});
  b.node("Identity", {"x"}, {"x2"});
  b.node("Unsqueeze", {"x2", "ax"}, {"x3"});
  b.initializer_i64("ax", {1}, {0});
  attr_ints(b.node("Transpose", {"x3"}, {"u"}), "perm", {2, 0, 1});
  const Graph g = b.import();
  const auto outs = run_model(g, {tensor_of({2, 3}, iota(6))});
  EXPECT_EQ(outs[0].shape(), (Shape{3, 2}));
  EXPECT_TRUE(values_near(outs[0], {0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(outs[1].shape(), (Shape{3, 1, 2}));
  EXPECT_TRUE(values_near(outs[1], {0, 3, 1, 4, 2, 5}));
}

TEST(ConverterOps, ConcatNegativeAxisWithConstant) {
  OnnxBuilder b;
  b.input("x", {1, 2}).output("y");
  b.initializer("c", {1, 3}, {7, 8, 9});
  attr_i(b.node("Concat", {"x", "c"}, {"y"}), "axis", -1);
  const Graph g = b.import();
  EXPECT_EQ(attrs_as<fb::ConcatAttrsT>(node_of(g, OpType::Concat)).axis, 1);
  EXPECT_TRUE(values_near(run_model(g, {tensor_of({1, 2}, {1, 2})})[0], {1, 2, 7, 8, 9}));
}

TEST(ConverterOps, SliceNegativeStepAndInt64Extremes) {
  OnnxBuilder b;
  b.input("x", {2, 5}).output("y").output("z");
  b.initializer_i64("s", {1}, {-1}).initializer_i64("e", {1}, {INT64_MIN}).initializer_i64("a", {1}, {-1});
  b.initializer_i64("st", {1}, {-2});
  b.node("Slice", {"x", "s", "e", "a", "st"}, {"y"});
  b.initializer_i64("s2", {1}, {1}).initializer_i64("e2", {1}, {INT64_MAX}).initializer_i64("st2", {1}, {2});
  b.node("Slice", {"x", "s2", "e2", "a", "st2"}, {"z"});
  const Graph g = b.import();
  const auto& a = attrs_as<fb::SliceAttrsT>(g.nodes.at(0));
  EXPECT_EQ(a.axes, (std::vector<int32_t>{1}));
  EXPECT_EQ(a.steps, (std::vector<int64_t>{-2}));
  const auto outs = run_model(g, {tensor_of({2, 5}, iota(10))});
  EXPECT_TRUE(values_near(outs[0], {4, 2, 0, 9, 7, 5}));
  EXPECT_TRUE(values_near(outs[1], {1, 3, 6, 8}));
}

TEST(ConverterOps, ReduceMean) {
  OnnxBuilder b;
  b.input("x", {2, 3}).output("y").output("all");
  auto& n = b.node("ReduceMean", {"x"}, {"y"});
  attr_ints(n, "axes", {-1});
  attr_i(n, "keepdims", 0);
  b.node("ReduceMean", {"x"}, {"all"});
  const Graph g = b.import();
  const auto& a = attrs_as<fb::ReduceAttrsT>(g.nodes.at(0));
  EXPECT_EQ(a.axes, (std::vector<int32_t>{1}));
  EXPECT_FALSE(a.keepdims);
  const auto outs = run_model(g, {tensor_of({2, 3}, iota(6))});
  EXPECT_EQ(outs[0].shape(), (Shape{2}));
  EXPECT_TRUE(values_near(outs[0], {1, 4}));
  EXPECT_EQ(outs[1].shape(), (Shape{1, 1}));
  EXPECT_TRUE(values_near(outs[1], {2.5f}));
}

TEST(ConverterOps, IdentityAndDropout) {
  OnnxBuilder b(13);
  b.input("x", {3}).output("y");
  b.constant("ratio", {}, {0.3f});
  b.initializer("training", {}, {0.0f});
  b.graph().mutable_initializer(0)->set_data_type(onnx::TensorProto::BOOL);
  b.graph().mutable_initializer(0)->clear_float_data();
  b.graph().mutable_initializer(0)->add_int32_data(0);
  b.node("Identity", {"x"}, {"a"});
  b.node("Dropout", {"a", "ratio", "training"}, {"y", "mask"});  // the mask is not read
  const Graph raw = b.import(unoptimised());
  EXPECT_EQ(node_of(raw, OpType::Dropout).inputs.size(), 1u);
  node_of(raw, OpType::Identity);
  const Graph opt = b.import();
  EXPECT_TRUE(opt.nodes.empty() || opt.nodes.size() == 1u) << "eliminate_identity drops both when it can";
  EXPECT_TRUE(values_near(run_model(raw, {tensor_of({3}, {1, -2, 3})})[0], {1, -2, 3}));
  EXPECT_TRUE(values_near(run_model(opt, {tensor_of({3}, {1, -2, 3})})[0], {1, -2, 3}));
}

}  // namespace
}  // namespace kiln::test
