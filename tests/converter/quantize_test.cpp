// QuantizeLinear / DequantizeLinear import: the scale and zero point become
// the QuantParams of the quantized tensor (per tensor or per axis, uint8 or
// int8, a missing zero point meaning uint8 0), the imported graph computes
// hand-worked values on the reference backend, a DequantizeLinear that reads a
// tensor with other parameters than its QuantizeLinear is refused, and a
// folded quantized Conv shows its dtypes in Model::nodes() (`kiln inspect`).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "engine/core/graph.hpp"
#include "engine/core/quantized_ops.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using F = onnx::TensorProto;

ConvertOptions unoptimised() {
  ConvertOptions o;
  o.optimize = false;
  return o;
}

// An integer initializer (uint8, int8 or int32 values in int32_data).
void int_initializer(OnnxBuilder& b, const std::string& name, int type, std::vector<int64_t> dims,
                     const std::vector<int32_t>& values) {
  onnx::TensorProto* t = b.graph().add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  for (int32_t v : values) t->add_int32_data(v);
}

const TensorInfo& tensor_named(const Graph& g, const std::string& name) {
  for (const TensorInfo& t : g.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

std::vector<OpType> ops_of(const Graph& g) {
  std::vector<OpType> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op);
  return ops;
}

// ONNX QuantizeLinear: q = saturate(round_half_even(x / s) + z); then (q − z) · s.
float qdq(float x, float s, int z, int lo, int hi) {
  const float q =
      std::clamp(std::nearbyint(x / s) + static_cast<float>(z), static_cast<float>(lo), static_cast<float>(hi));
  return (q - static_cast<float>(z)) * s;
}

const std::vector<float> kX = {-10.0f, -4.9f, -0.25f, 0.0f, 0.25f, 0.75f, 1.3f, 3.0f, 60.0f, 200.0f};

TEST(ConverterQuantize, PerTensorUint8) {
  OnnxBuilder b;
  b.input("x", {2, 5}).output("y");
  b.initializer("s", {}, {0.5f});
  int_initializer(b, "z", F::UINT8, {}, {10});
  b.node("QuantizeLinear", {"x", "s", "z"}, {"x_q"}, "q");
  b.node("DequantizeLinear", {"x_q", "s", "z"}, {"y"}, "dq");
  const Graph g = b.import(unoptimised());
  EXPECT_EQ(ops_of(g), (std::vector<OpType>{OpType::QuantizeLinear, OpType::DequantizeLinear}));
  const TensorInfo& q = tensor_named(g, "x_q");
  EXPECT_EQ(q.dtype, DataType::UInt8);
  ASSERT_TRUE(q.quant.has_value());
  EXPECT_EQ(*q.quant, (QuantParams{{0.5f}, {10}, -1}));
  EXPECT_EQ(g.nodes[1].inputs[0], g.nodes[0].outputs[0]);
  EXPECT_EQ(tensor_named(g, "y").dtype, DataType::Float32);
  // -10 and -4.9 saturate at 0 (-5.0), 0.25/0.5 = 0.5 rounds to 0 and 0.75/0.5 = 1.5 to 2 (ties to even),
  // 200 saturates at 255 (122.5).
  const std::vector<float> want = {-5.0f, -5.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.5f, 3.0f, 60.0f, 122.5f};
  for (size_t i = 0; i < kX.size(); ++i) ASSERT_EQ(qdq(kX[i], 0.5f, 10, 0, 255), want[i]) << i;
  EXPECT_EQ(values_of(run_model(g, {tensor_of({2, 5}, kX)})[0]), want);
}

TEST(ConverterQuantize, PerTensorInt8) {
  OnnxBuilder b;
  b.input("x", {2, 5}).output("y");
  b.initializer("s", {}, {0.25f});
  int_initializer(b, "z", F::INT8, {}, {-3});
  b.node("QuantizeLinear", {"x", "s", "z"}, {"x_q"});
  b.node("DequantizeLinear", {"x_q", "s", "z"}, {"y"});
  const Graph g = b.import(unoptimised());
  const TensorInfo& q = tensor_named(g, "x_q");
  EXPECT_EQ(q.dtype, DataType::Int8);
  EXPECT_EQ(*q.quant, (QuantParams{{0.25f}, {-3}, -1}));
  std::vector<float> want;
  for (float x : kX) want.push_back(qdq(x, 0.25f, -3, -128, 127));
  EXPECT_EQ(want.front(), -10.0f);      // -40 - 3 = -43: inside the int8 range
  EXPECT_EQ(want.back(), 130 * 0.25f);  // saturates at 127
  EXPECT_EQ(values_of(run_model(g, {tensor_of({2, 5}, kX)})[0]), want);
}

TEST(ConverterQuantize, MissingZeroPointIsUint8Zero) {
  OnnxBuilder b;
  b.input("x", {2, 5}).output("y");
  b.initializer("s", {}, {0.5f});
  b.node("QuantizeLinear", {"x", "s"}, {"x_q"});
  b.node("DequantizeLinear", {"x_q", "s"}, {"y"});
  const Graph g = b.import(unoptimised());
  const TensorInfo& q = tensor_named(g, "x_q");
  EXPECT_EQ(q.dtype, DataType::UInt8);
  EXPECT_EQ(*q.quant, (QuantParams{{0.5f}, {0}, -1}));
  // Negative values saturate at 0.
  EXPECT_EQ(values_of(run_model(g, {tensor_of({2, 5}, kX)})[0]),
            (std::vector<float>{0, 0, 0, 0, 0, 1.0f, 1.5f, 3.0f, 60.0f, 127.5f}));
}

TEST(ConverterQuantize, PerAxisActivationAndWeight) {
  // x [1, 3, 2] quantized per channel (axis 1, the default); a constant int8
  // weight [3, 2] dequantized per row (axis 0) and added.
  OnnxBuilder b;
  b.input("x", {1, 3, 2}).output("y");
  b.initializer("xs", {3}, {0.5f, 0.25f, 2.0f});
  int_initializer(b, "xz", F::UINT8, {3}, {0, 128, 250});
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"x_q"});
  b.node("DequantizeLinear", {"x_q", "xs", "xz"}, {"x_dq"});
  int_initializer(b, "w", F::INT8, {3, 2}, {-128, 127, 1, -1, 0, 5});
  b.initializer("ws", {3}, {0.1f, 0.2f, 0.3f});
  int_initializer(b, "wz", F::INT8, {3}, {0, -1, 2});
  auto& dq = b.node("DequantizeLinear", {"w", "ws", "wz"}, {"w_dq"});
  attr_i(dq, "axis", 0);
  b.node("Add", {"x_dq", "w_dq"}, {"y"});
  const Graph g = b.import(unoptimised());
  const TensorInfo& q = tensor_named(g, "x_q");
  EXPECT_EQ(q.dtype, DataType::UInt8);
  EXPECT_EQ(*q.quant, (QuantParams{{0.5f, 0.25f, 2.0f}, {0, 128, 250}, 1}));
  const TensorInfo& w = tensor_named(g, "w");
  EXPECT_EQ(w.dtype, DataType::Int8);
  ASSERT_TRUE(w.is_constant());
  EXPECT_EQ(*w.quant, (QuantParams{{0.1f, 0.2f, 0.3f}, {0, -1, 2}, 0}));
  EXPECT_EQ(static_cast<int8_t>(w.constant->bytes()[0]), -128);
  EXPECT_EQ(static_cast<int8_t>(w.constant->bytes()[1]), 127);

  const std::vector<float> x = {-1.0f, 3.3f, 40.0f, -40.0f, 2.0f, 15.0f};
  const std::vector<float> xs = {0.5f, 0.25f, 2.0f};
  const std::vector<int> xz = {0, 128, 250};
  const std::vector<float> wdq = {-12.8f, 12.7f, 0.2f * 2, 0.0f, -0.6f, 0.3f * 3};
  std::vector<float> want;
  for (size_t i = 0; i < 6; ++i) want.push_back(qdq(x[i], xs[i / 2], xz[i / 2], 0, 255) + wdq[i]);
  const Tensor y = run_model(g, {tensor_of({1, 3, 2}, x)})[0];
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(y.data()[i], want[i], 1e-5) << i;
  // Per channel: -1 saturates at 0 in channel 0; 40 and -40 at 255 and 0 in channel 1
  // ((255 − 128) · 0.25, −128 · 0.25); 15 / 2 = 7.5 rounds to 8 and saturates in channel 2 ((255 − 250) · 2).
  EXPECT_NEAR(y.data()[0], 0.0f - 12.8f, 1e-5);
  EXPECT_NEAR(y.data()[1], 3.5f + 12.7f, 1e-5);
  EXPECT_NEAR(y.data()[2], 31.75f + 0.4f, 1e-5);
  EXPECT_NEAR(y.data()[3], -32.0f + 0.0f, 1e-5);
  EXPECT_NEAR(y.data()[5], 10.0f + 0.9f, 1e-5);
}

TEST(ConverterQuantize, DequantizeWithOtherParametersThanItsQuantizeIsUnsupported) {
  OnnxBuilder b;
  b.input("x", {4}).output("y");
  b.initializer("s", {}, {0.5f}).initializer("s2", {}, {0.25f});
  int_initializer(b, "z", F::UINT8, {}, {10});
  b.node("QuantizeLinear", {"x", "s", "z"}, {"x_q"}, "q");
  b.node("DequantizeLinear", {"x_q", "s2", "z"}, {"y"}, "dq");
  try {
    b.import(unoptimised());
    ADD_FAILURE() << "imported a DequantizeLinear whose parameters differ from its QuantizeLinear's";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'dq'"), HasSubstr("'x_q'"), HasSubstr("other parameters"),
                                HasSubstr("u8 s=0.25 z=10"), HasSubstr("u8 s=0.5 z=10")));
  }
}

// x -> Q -> DQ -> Conv(DQ(w u8), DQ(bias i32)) -> Q -> DQ -> y: the QDQ form ONNX exporters write.
OnnxBuilder qdq_conv_model() {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("xs", {}, {0.02f}).initializer("ws", {}, {0.01f}).initializer("bs", {}, {0.0002f});
  b.initializer("ys", {}, {0.03f});
  int_initializer(b, "xz", F::UINT8, {}, {128});
  int_initializer(b, "wz", F::UINT8, {}, {120});
  int_initializer(b, "bz", F::INT32, {}, {0});
  int_initializer(b, "yz", F::UINT8, {}, {5});
  std::vector<int32_t> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int32_t>(i * 29 % 256);
  int_initializer(b, "w", F::UINT8, {3, 2, 3, 3}, w);
  int_initializer(b, "bias", F::INT32, {3}, {100, -200, 300});
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"x_q"});
  b.node("DequantizeLinear", {"x_q", "xs", "xz"}, {"x_dq"});
  b.node("DequantizeLinear", {"w", "ws", "wz"}, {"w_dq"});
  b.node("DequantizeLinear", {"bias", "bs", "bz"}, {"bias_dq"});
  auto& conv = b.node("Conv", {"x_dq", "w_dq", "bias_dq"}, {"c"}, "conv");
  attr_ints(conv, "pads", {1, 1, 1, 1});
  b.node("QuantizeLinear", {"c", "ys", "yz"}, {"y_q"});
  b.node("DequantizeLinear", {"y_q", "ys", "yz"}, {"y"});
  return b;
}

TEST(ConverterQuantize, FoldedConvShowsItsDtypesInModelNodes) {
  const Graph g = qdq_conv_model().import();
  EXPECT_EQ(ops_of(g), (std::vector<OpType>{OpType::QuantizeLinear, OpType::Conv, OpType::DequantizeLinear}));
  const Model model(std::make_shared<Graph>(g));
  const std::vector<NodeInfo> nodes = model.nodes();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[1].op, "Conv");
  EXPECT_EQ(nodes[1].name, "conv");
  EXPECT_EQ(nodes[1].dtype, "u8 s=0.03 z=5, w u8 s=0.01 z=120");
  EXPECT_EQ(nodes[1].inputs[0], "x_q");
  EXPECT_EQ(nodes[1].outputs[0], "y_q");
  EXPECT_EQ(nodes[0].dtype, "u8 s=0.02 z=128");  // the QuantizeLinear writes uint8
  EXPECT_EQ(nodes[2].dtype, "f32");
  // The unoptimised graph keeps the float Conv between Q/DQ pairs.
  const Model raw(std::make_shared<Graph>(qdq_conv_model().import(unoptimised())));
  for (const NodeInfo& n : raw.nodes()) {
    if (n.op == "Conv") {
      EXPECT_EQ(n.dtype, "f32");
    }
  }
  // And both compute the same within one output step (0.03).
  Tensor x({1, 2, 4, 4});
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(static_cast<float>(i)) * 2.0f;
  const Tensor a = run_model(g, {x})[0];
  const Tensor b = run_model(raw.graph(), {x})[0];
  ASSERT_EQ(a.size(), b.size());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a.data()[i], b.data()[i], 0.03 * 1.001) << i;
}

TEST(ConverterQuantize, RuntimeScaleIsUnsupported) {
  OnnxBuilder b;
  b.input("x", {4}).input("s", {}).output("y");
  b.node("QuantizeLinear", {"x", "s"}, {"x_q"}, "q");
  b.node("DequantizeLinear", {"x_q", "s"}, {"y"});
  try {
    b.import(unoptimised());
    ADD_FAILURE() << "imported a run-time scale";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'q'"), HasSubstr("scale"), HasSubstr("run time")));
  }
}

}  // namespace
}  // namespace kiln::test
