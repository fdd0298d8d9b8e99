// ONNX's integer ops (QLinearConv, QLinearMatMul, com.microsoft QLinearAdd and
// QLinearGlobalAveragePool — the "QOperator" form ONNX Runtime's optimizer
// writes) against the same network in QDQ form: both must import onto Kiln's
// quantized ops and give the same bits, on the reference and cpu backends.
#include <random>

#include "engine/runtime/backend_registry.hpp"
#include "gtest/gtest.h"
#include "tests/common/test_util.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

using TP = onnx::TensorProto;

void int_initializer(OnnxBuilder& b, const std::string& name, int type, std::vector<int64_t> dims,
                     const std::vector<int32_t>& values) {
  TP* t = b.graph().add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  for (int32_t v : values) t->add_int32_data(v);
}

void scalar(OnnxBuilder& b, const std::string& name, float v) { b.initializer(name, {}, {v}); }
void zero_point(OnnxBuilder& b, const std::string& name, int type, int32_t v) {
  int_initializer(b, name, type, {}, {v});
}

std::vector<int32_t> random_ints(size_t n, int32_t lo, int32_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Params {
  std::vector<int32_t> w1, b1, w2, b2;
  std::vector<float> w2_scales;  // per output channel
};

Params make_params() {
  Params p;
  p.w1 = random_ints(16 * 8 * 9, 0, 255, 1);
  p.b1 = random_ints(16, -3000, 3000, 2);
  p.w2 = random_ints(8 * 16, -128, 127, 3);
  p.b2 = random_ints(8, -3000, 3000, 4);
  for (int i = 0; i < 8; ++i) p.w2_scales.push_back(0.002f + 0.0005f * static_cast<float>(i));
  return p;
}

// The shared initializers: x (s 0.02, z 128), conv1 (u8 weights z 120, per tensor),
// conv2 (int8 weights per channel), add output, pool output.
void common(OnnxBuilder& b, const Params& p) {
  b.input("x", {1, 8, 6, 6});
  b.output("y");
  scalar(b, "x_s", 0.02f);
  zero_point(b, "x_z", TP::UINT8, 128);
  int_initializer(b, "w1", TP::UINT8, {16, 8, 3, 3}, p.w1);
  scalar(b, "w1_s", 0.004f);
  zero_point(b, "w1_z", TP::UINT8, 120);
  int_initializer(b, "b1", TP::INT32, {16}, p.b1);
  scalar(b, "c1_s", 0.03f);
  zero_point(b, "c1_z", TP::UINT8, 10);
  int_initializer(b, "w2", TP::INT8, {8, 16, 1, 1}, p.w2);
  b.initializer("w2_s", {8}, p.w2_scales);
  int_initializer(b, "w2_z", TP::INT8, {8}, std::vector<int32_t>(8, 0));
  int_initializer(b, "b2", TP::INT32, {8}, p.b2);
  scalar(b, "c2_s", 0.025f);
  zero_point(b, "c2_z", TP::UINT8, 128);
  scalar(b, "a_s", 0.03f);
  zero_point(b, "a_z", TP::UINT8, 125);
  scalar(b, "g_s", 0.01f);
  zero_point(b, "g_z", TP::UINT8, 130);
}

void conv_attrs(onnx::NodeProto& n, int64_t k) {
  attr_ints(n, "kernel_shape", {k, k});
  attr_ints(n, "pads", {k / 2, k / 2, k / 2, k / 2});
}

Graph qoperator_model(const Params& p) {
  OnnxBuilder b(13);
  auto* ms = b.model().add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  common(b, p);
  b.node("QuantizeLinear", {"x", "x_s", "x_z"}, {"xq"});
  conv_attrs(b.node("QLinearConv", {"xq", "x_s", "x_z", "w1", "w1_s", "w1_z", "c1_s", "c1_z", "b1"}, {"c1"}), 3);
  conv_attrs(b.node("QLinearConv", {"c1", "c1_s", "c1_z", "w2", "w2_s", "w2_z", "c2_s", "c2_z", "b2"}, {"c2"}), 1);
  b.node("QLinearAdd", {"c2", "c2_s", "c2_z", "xq", "x_s", "x_z", "a_s", "a_z"}, {"a"}).set_domain("com.microsoft");
  b.node("QLinearGlobalAveragePool", {"a", "a_s", "a_z", "g_s", "g_z"}, {"g"}).set_domain("com.microsoft");
  b.node("DequantizeLinear", {"g", "g_s", "g_z"}, {"y"});
  return b.import();
}

Graph qdq_model(const Params& p) {
  OnnxBuilder b(13);
  common(b, p);
  // The bias scales are sx·sw, as a QDQ exporter writes them.
  b.initializer("b1_s", {}, {0.02f * 0.004f});
  zero_point(b, "b1_z", TP::INT32, 0);
  std::vector<float> b2_s;
  for (float s : p.w2_scales) b2_s.push_back(0.03f * s);
  b.initializer("b2_s", {8}, b2_s);
  int_initializer(b, "b2_z", TP::INT32, {8}, std::vector<int32_t>(8, 0));
  auto q = [&](const std::string& in, const std::string& s, const std::string& z, const std::string& out) {
    b.node("QuantizeLinear", {in, s, z}, {out});
  };
  auto dq = [&](const std::string& in, const std::string& s, const std::string& z, const std::string& out) {
    auto& n = b.node("DequantizeLinear", {in, s, z}, {out});
    if (s == "w2_s" || s == "b2_s") attr_i(n, "axis", 0);
  };
  q("x", "x_s", "x_z", "xq");
  dq("xq", "x_s", "x_z", "xf");
  dq("w1", "w1_s", "w1_z", "w1f");
  dq("b1", "b1_s", "b1_z", "b1f");
  conv_attrs(b.node("Conv", {"xf", "w1f", "b1f"}, {"c1f"}), 3);
  q("c1f", "c1_s", "c1_z", "c1");
  dq("c1", "c1_s", "c1_z", "c1d");
  dq("w2", "w2_s", "w2_z", "w2f");
  dq("b2", "b2_s", "b2_z", "b2f");
  conv_attrs(b.node("Conv", {"c1d", "w2f", "b2f"}, {"c2f"}), 1);
  q("c2f", "c2_s", "c2_z", "c2");
  dq("c2", "c2_s", "c2_z", "c2d");
  dq("xq", "x_s", "x_z", "xf2");
  b.node("Add", {"c2d", "xf2"}, {"af"});
  q("af", "a_s", "a_z", "a");
  dq("a", "a_s", "a_z", "ad");
  b.node("GlobalAveragePool", {"ad"}, {"gf"});
  q("gf", "g_s", "g_z", "g");
  dq("g", "g_s", "g_z", "y");
  ConvertReport report;
  Graph g = b.import({}, &report);
  return g;
}

std::vector<Tensor> run(const Graph& g, const std::string& backend, const std::vector<Tensor>& inputs) {
  SessionOptions o;
  o.backend = backend;
  Session s(Model(std::make_shared<Graph>(g)), o);
  return s.run(inputs);
}

TEST(QOperator, ImportsOntoQuantizedOpsAndMatchesTheQdqFormBitForBit) {
  const Params p = make_params();
  const Graph qop = qoperator_model(p);
  const Graph qdq = qdq_model(p);
  // QOperator imports straight onto quantized nodes.
  int quantized_convs = 0;
  for (const Node& n : qop.nodes)
    if (n.op == OpType::Conv && qop.tensor(n.outputs[0]).dtype == DataType::UInt8) ++quantized_convs;
  EXPECT_EQ(quantized_convs, 2);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-2.5f, 2.5f);  // beyond the input range: saturates
  Tensor x({1, 8, 6, 6});
  for (float& v : x.values()) v = d(rng);
  const std::vector<Tensor> want = run(qdq, "reference", {x});
  for (const std::string backend : {"reference", "cpu"}) {
    if (!BackendRegistry::global().has(backend)) continue;
    const std::vector<Tensor> got = run(qop, backend, {x});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(tensors_close(got[0], want[0], 0.0)) << backend;
  }
  // Not a constant function of the input.
  Tensor x2({1, 8, 6, 6});
  EXPECT_FALSE(tensors_close(run(qop, "reference", {x2})[0], want[0], 1e-3));
}

TEST(QOperator, QLinearMatMulMatchesTheQdqForm) {
  const std::vector<int32_t> w = random_ints(20 * 7, 0, 255, 9);
  auto build = [&](bool qoperator) {
    OnnxBuilder b(13);
    b.input("x", {3, 20});
    b.output("y");
    scalar(b, "x_s", 0.01f);
    zero_point(b, "x_z", TP::UINT8, 100);
    int_initializer(b, "w", TP::UINT8, {20, 7}, w);
    scalar(b, "w_s", 0.005f);
    zero_point(b, "w_z", TP::UINT8, 131);
    scalar(b, "y_s", 0.02f);
    zero_point(b, "y_z", TP::UINT8, 128);
    b.node("QuantizeLinear", {"x", "x_s", "x_z"}, {"xq"});
    if (qoperator) {
      b.node("QLinearMatMul", {"xq", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"}, {"m"});
    } else {
      b.node("DequantizeLinear", {"xq", "x_s", "x_z"}, {"xf"});
      b.node("DequantizeLinear", {"w", "w_s", "w_z"}, {"wf"});
      b.node("MatMul", {"xf", "wf"}, {"mf"});
      b.node("QuantizeLinear", {"mf", "y_s", "y_z"}, {"m"});
    }
    b.node("DequantizeLinear", {"m", "y_s", "y_z"}, {"y"});
    return b.import();
  };
  Tensor x({3, 20});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-1, 1.5f);
  for (float& v : x.values()) v = d(rng);
  const std::vector<Tensor> want = run(build(false), "reference", {x});
  const Graph qop = build(true);
  for (const std::string backend : {"reference", "cpu"}) {
    if (!BackendRegistry::global().has(backend)) continue;
    EXPECT_TRUE(tensors_close(run(qop, backend, {x})[0], want[0], 0.0)) << backend;
  }
}

TEST(QOperator, IntegerOpsWithoutRequantizationAreReportedUnsupported) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4}, TP::UINT8);
  b.output("y", TP::INT32);
  int_initializer(b, "w", TP::UINT8, {2, 2, 1, 1}, {1, 2, 3, 4});
  b.node("ConvInteger", {"x", "w"}, {"y"});
  try {
    b.import();
    FAIL() << "ConvInteger imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("ConvInteger"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
