// Ops whose parameters moved between attributes and inputs across opsets, and
// Softmax's change of meaning at opset 13: each form imports to the same Kiln
// node and values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/core/graph.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

// ---- Clip ----------------------------------------------------------------------

fb::ClipAttrsT clip_of(const Graph& g) { return attrs_as<fb::ClipAttrsT>(g.nodes.at(0)); }

TEST(ConverterOpsets, ClipAttributeForm) {
  OnnxBuilder b(6);
  b.input("x", {4}).output("y");
  auto& n = b.node("Clip", {"x"}, {"y"});
  attr_f(n, "min", -1.0f);
  attr_f(n, "max", 2.0f);
  const Graph g = b.import();
  EXPECT_EQ(clip_of(g).min, -1.0f);
  EXPECT_EQ(clip_of(g).max, 2.0f);
  EXPECT_EQ(values_of(run_model(g, {tensor_of({4}, {-3, 0, 1.5f, 9})})[0]), (std::vector<float>{-1, 0, 1.5f, 2}));

  OnnxBuilder d(10);
  d.input("x", {1}).output("y");
  d.node("Clip", {"x"}, {"y"});
  const Graph gd = d.import();
  EXPECT_EQ(clip_of(gd).min, std::numeric_limits<float>::lowest()) << "opset < 11 defaults are float32's limits";
  EXPECT_EQ(clip_of(gd).max, std::numeric_limits<float>::max());
}

TEST(ConverterOpsets, ClipInputFormFromConstantNodes) {
  // As torch exports ReLU6: Constant nodes feed min and max.
  OnnxBuilder b(13);
  b.input("x", {4}).output("y");
  b.constant("lo", {}, {0.0f});
  b.constant("hi", {}, {6.0f});
  b.node("Clip", {"x", "lo", "hi"}, {"y"});
  ConvertReport report;
  const Graph g = b.import({}, &report);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(clip_of(g).min, 0.0f);
  EXPECT_EQ(clip_of(g).max, 6.0f);
  EXPECT_EQ(report.folded_by_importer, 2) << "the two Constant nodes";
  EXPECT_EQ(values_of(run_model(g, {tensor_of({4}, {-3, 0, 5, 9})})[0]), (std::vector<float>{0, 0, 5, 6}));
}

TEST(ConverterOpsets, ClipInputFormWithOneBound) {
  OnnxBuilder b(11);
  b.input("x", {3}).output("y");
  b.initializer("hi", {}, {1.0f});
  b.node("Clip", {"x", "", "hi"}, {"y"});
  const Graph g = b.import();
  EXPECT_EQ(clip_of(g).min, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(clip_of(g).max, 1.0f);
}

// ---- Slice -----------------------------------------------------------------------

TEST(ConverterOpsets, SliceAttributeAndInputForms) {
  const std::vector<float> x = iota(20);  // [4, 5]
  OnnxBuilder a(9);
  a.input("x", {4, 5}).output("y");
  auto& n = a.node("Slice", {"x"}, {"y"});
  attr_ints(n, "starts", {1, -3});
  attr_ints(n, "ends", {1000, -1});
  attr_ints(n, "axes", {0, 1});

  OnnxBuilder b(13);
  b.input("x", {4, 5}).output("y");
  b.initializer_i64("starts", {2}, {1, -3}).initializer_i64("ends", {2}, {1000, -1});
  b.initializer_i64("axes", {2}, {0, -1});
  b.node("Slice", {"x", "starts", "ends", "axes"}, {"y"});

  for (const OnnxBuilder* m : {&a, &b}) {
    const Graph g = m->import();
    const auto& s = attrs_as<fb::SliceAttrsT>(g.nodes.at(0));
    EXPECT_EQ(s.axes, (std::vector<int32_t>{0, 1})) << "axes are normalised";
    EXPECT_EQ(s.steps, (std::vector<int64_t>{1, 1}));
    const Tensor y = run_model(g, {tensor_of({4, 5}, x)})[0];
    EXPECT_EQ(y.shape(), (Shape{3, 2}));
    EXPECT_EQ(values_of(y), (std::vector<float>{7, 8, 12, 13, 17, 18}));
  }
}

// ---- Squeeze / Unsqueeze ---------------------------------------------------------

TEST(ConverterOpsets, SqueezeUnsqueezeAttributeAndInputForms) {
  OnnxBuilder a(11);
  a.input("x", {1, 3, 1}).output("s").output("u");
  attr_ints(a.node("Squeeze", {"x"}, {"s"}), "axes", {-1, 0});
  attr_ints(a.node("Unsqueeze", {"x"}, {"u"}), "axes", {-1, 1});

  OnnxBuilder b(13);
  b.input("x", {1, 3, 1}).output("s").output("u");
  b.initializer_i64("sa", {2}, {-1, 0}).initializer_i64("ua", {2}, {-1, 1});
  b.node("Squeeze", {"x", "sa"}, {"s"});
  b.node("Unsqueeze", {"x", "ua"}, {"u"});

  for (const OnnxBuilder* m : {&a, &b}) {
    const Graph g = m->import();
    EXPECT_EQ(attrs_as<fb::AxesAttrsT>(g.nodes.at(0)).axes, (std::vector<int32_t>{0, 2}));
    EXPECT_EQ(attrs_as<fb::AxesAttrsT>(g.nodes.at(1)).axes, (std::vector<int32_t>{1, 4}));
    const auto outs = run_model(g, {tensor_of({1, 3, 1}, {1, 2, 3})});
    EXPECT_EQ(outs[0].shape(), (Shape{3}));
    EXPECT_EQ(outs[1].shape(), (Shape{1, 1, 3, 1, 1}));
    EXPECT_EQ(values_of(outs[1]), (std::vector<float>{1, 2, 3}));
  }
}

TEST(ConverterOpsets, SqueezeWithoutAxesDropsEveryOne) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 1, 2}).output("y");
  b.node("Squeeze", {"x"}, {"y"});
  const Graph g = b.import();
  EXPECT_EQ(attrs_as<fb::AxesAttrsT>(g.nodes.at(0)).axes, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(g.shape(g.outputs[0]), (Shape{3, 2}));
}

// ---- Split -------------------------------------------------------------------------

TEST(ConverterOpsets, SplitAttributeInputAndEqualForms) {
  OnnxBuilder a(11);
  a.input("x", {2, 5}).output("p").output("q");
  auto& n = a.node("Split", {"x"}, {"p", "q"});
  attr_i(n, "axis", -1);
  attr_ints(n, "split", {2, 3});

  OnnxBuilder b(13);
  b.input("x", {2, 5}).output("p").output("q");
  b.initializer_i64("split", {2}, {2, 3});
  attr_i(b.node("Split", {"x", "split"}, {"p", "q"}), "axis", 1);

  for (const OnnxBuilder* m : {&a, &b}) {
    const Graph g = m->import();
    const auto& s = attrs_as<fb::SplitAttrsT>(g.nodes.at(0));
    EXPECT_EQ(s.axis, 1);
    EXPECT_EQ(s.sizes, (std::vector<int64_t>{2, 3}));
    const auto outs = run_model(g, {tensor_of({2, 5}, iota(10))});
    EXPECT_EQ(values_of(outs[0]), (std::vector<float>{0, 1, 5, 6}));
    EXPECT_EQ(values_of(outs[1]), (std::vector<float>{2, 3, 4, 7, 8, 9}));
  }

  OnnxBuilder e(13);
  e.input("x", {6}).output("p").output("q").output("r");
  e.node("Split", {"x"}, {"p", "q", "r"});
  const Graph ge = e.import();
  EXPECT_EQ(attrs_as<fb::SplitAttrsT>(ge.nodes.at(0)).sizes, (std::vector<int64_t>{2, 2, 2}));
}

// ---- Softmax ---------------------------------------------------------------------

TEST(ConverterOpsets, SoftmaxBeforeAndFromOpset13) {
  const std::vector<float> x = {0, 1, 2, 3};  // [1, 2, 2]
  OnnxBuilder old(11);
  old.input("x", {1, 2, 2}).output("y");
  old.node("Softmax", {"x"}, {"y"});  // axis 1, over axes 1 and 2 jointly
  const Graph g11 = old.import();
  const auto& a11 = attrs_as<fb::SoftmaxAttrsT>(g11.nodes.at(0));
  EXPECT_EQ(a11.axis, 1);
  EXPECT_TRUE(a11.over_trailing_axes);
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const std::vector<float> y11 = values_of(run_model(g11, {tensor_of({1, 2, 2}, x)})[0]);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y11[static_cast<size_t>(i)], std::exp(i) / z, 1e-6);

  OnnxBuilder now(13);
  now.input("x", {1, 2, 2}).output("y");
  now.node("Softmax", {"x"}, {"y"});  // axis -1 only
  const Graph g13 = now.import();
  const auto& a13 = attrs_as<fb::SoftmaxAttrsT>(g13.nodes.at(0));
  EXPECT_EQ(a13.axis, 2);
  EXPECT_FALSE(a13.over_trailing_axes);
  const std::vector<float> y13 = values_of(run_model(g13, {tensor_of({1, 2, 2}, x)})[0]);
  const float lo = static_cast<float>(1 / (1 + std::exp(1.0)));
  EXPECT_NEAR(y13[0], lo, 1e-6);
  EXPECT_NEAR(y13[1], 1 - lo, 1e-6);
  EXPECT_NEAR(y13[2], lo, 1e-6);
  EXPECT_NEAR(y13[3], 1 - lo, 1e-6);
}

// ---- Pad ---------------------------------------------------------------------------

TEST(ConverterOpsets, PadAttributeAndInputForms) {
  OnnxBuilder a(2);
  a.input("x", {1, 2}).output("y");
  auto& n = a.node("Pad", {"x"}, {"y"});
  attr_ints(n, "pads", {0, 1, 1, -1});
  attr_f(n, "value", 9.0f);

  OnnxBuilder b(11);
  b.input("x", {1, 2}).output("y");
  b.initializer_i64("pads", {4}, {0, 1, 1, -1});
  b.constant("value", {}, {9.0f});
  attr_s(b.node("Pad", {"x", "pads", "value"}, {"y"}), "mode", "constant");

  for (const OnnxBuilder* m : {&a, &b}) {
    const Graph g = m->import();
    const auto& p = attrs_as<fb::PadAttrsT>(g.nodes.at(0));
    EXPECT_EQ(p.pads, (std::vector<int64_t>{0, 1, 1, -1}));
    EXPECT_EQ(p.value, 9.0f);
    const Tensor y = run_model(g, {tensor_of({1, 2}, {1, 2})})[0];
    EXPECT_EQ(y.shape(), (Shape{2, 2}));
    EXPECT_EQ(values_of(y), (std::vector<float>{9, 1, 9, 9})) << "a column added at the start, one cropped at the end";
  }
}

TEST(ConverterOpsets, ReshapeAttributeFormBeforeOpset5) {
  OnnxBuilder b(4);
  b.input("x", {2, 3}).output("y");
  attr_ints(b.node("Reshape", {"x"}, {"y"}), "shape", {3, -1});
  const Graph g = b.import();
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(g.nodes.at(0)).shape, (Shape{3, 2}));
}

TEST(ConverterOpsets, Opset1ConcatDefaultAxisAndPaddings) {
  OnnxBuilder b(1);
  b.input("x", {1, 2}).output("y").output("z");
  b.node("Concat", {"x", "x"}, {"y"});  // axis defaults to 1 before opset 4
  attr_ints(b.node("Pad", {"x"}, {"z"}), "paddings", {1, 0, 0, 0});
  const Graph g = b.import();
  EXPECT_EQ(g.shape(g.outputs[0]), (Shape{1, 4}));
  EXPECT_EQ(g.shape(g.outputs[1]), (Shape{2, 2}));
}

TEST(ConverterOpsets, NewerOpsetIsUnsupported) {
  OnnxBuilder b(20);
  b.input("x", {1}).output("y");
  b.node("Relu", {"x"}, {"y"});
  try {
    b.import();
    FAIL() << "opset 20 should be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("opset 20"), std::string::npos) << e.what();
  }
}

// Opset 18 moved ReduceMean's axes and Pad's axes to inputs and gave Split
// num_outputs (uneven: the last part smaller).
TEST(ConverterOpsets, Opset18AxesInputsAndSplitNumOutputs) {
  OnnxBuilder b(18);
  b.input("x", {1, 2, 3, 5});
  b.output("mean").output("noop").output("pad").output("s0").output("s1");
  b.initializer_i64("axes", {2}, {2, 3});
  b.initializer_i64("pad_axes", {1}, {3});
  b.initializer_i64("pads", {2}, {1, 2});
  b.node("ReduceMean", {"x", "axes"}, {"mean"});
  attr_i(b.node("ReduceMean", {"x"}, {"noop"}), "noop_with_empty_axes", 1);
  b.node("Pad", {"x", "pads", "", "pad_axes"}, {"pad"});
  onnx::NodeProto& split = b.node("Split", {"x"}, {"s0", "s1"});
  attr_i(split, "num_outputs", 2);
  attr_i(split, "axis", 3);
  const Graph g = b.import();
  EXPECT_EQ(g.shape(g.outputs[0]), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(g.shape(g.outputs[1]), (Shape{1, 2, 3, 5}));
  EXPECT_EQ(g.shape(g.outputs[2]), (Shape{1, 2, 3, 8}));
  EXPECT_EQ(g.shape(g.outputs[3]), (Shape{1, 2, 3, 3}));
  EXPECT_EQ(g.shape(g.outputs[4]), (Shape{1, 2, 3, 2}));
}

TEST(ConverterOpsets, OldBatchNormSpatialZeroIsUnsupported) {
  OnnxBuilder b(7);
  b.input("x", {1, 2, 1, 1}).output("y");
  for (const char* p : {"s", "b", "m", "v"}) b.initializer(p, {2}, {1, 1});
  attr_i(b.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn"), "spatial", 0);
  try {
    b.import();
    FAIL() << "spatial = 0 should be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'bn'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("spatial"), std::string::npos) << msg;
    EXPECT_NE(msg.find("opset 7"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kiln::test
