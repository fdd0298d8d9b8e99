// Shape sub-graphs folded by the importer, constants kept for the
// fold_constants pass, constant outputs, initializers, batch override, names.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/core/graph.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

ConvertOptions unoptimised() {
  ConvertOptions o;
  o.optimize = false;
  return o;
}

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

bool has_op(const Graph& g, OpType op) {
  return std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; });
}

bool contains(const std::vector<std::string>& list, const std::string& part) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& s) { return s.find(part) != std::string::npos; });
}

// x.view(x.size(0), -1) as torch exports it with dynamic shapes.
TEST(ConverterFolding, ShapeGatherConcatReshape) {
  OnnxBuilder b(13);
  b.input("x", {2, 3, 4, 5}).output("y");
  b.node("Shape", {"x"}, {"shape"});
  b.constant_i64("zero", {}, {0});
  attr_i(b.node("Gather", {"shape", "zero"}, {"batch"}), "axis", 0);
  b.constant_i64("axes", {1}, {0});
  b.node("Unsqueeze", {"batch", "axes"}, {"batch1"});
  b.constant_i64("minus1", {1}, {-1});
  attr_i(b.node("Concat", {"batch1", "minus1"}, {"target"}), "axis", 0);
  b.node("Reshape", {"x", "target"}, {"y"}, "flatten");
  ConvertReport report;
  const Graph g = b.import(unoptimised(), &report);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, OpType::Reshape);
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(g.nodes[0]).shape, (Shape{2, 60}));
  EXPECT_EQ(report.folded_by_importer, 7);
  EXPECT_EQ(report.onnx_nodes, 8);
  EXPECT_EQ(g.tensors.size(), 2u) << "no leftover constants";

  // The same model with --batch 3 follows the new static shape.
  ConvertOptions batch3;
  batch3.batch = 3;
  const Graph g3 = b.import(batch3);
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(g3.nodes.at(0)).shape, (Shape{3, 60}));
}

// Pad amounts computed the way torch exports F.pad on a channel axis:
// ConstantOfShape, Concat, Reshape, Slice with step -1, Transpose, Cast.
TEST(ConverterFolding, PadAmountsSubGraph) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 1, 1}).output("y");
  b.constant_i64("n", {1}, {4});
  b.constant_i64("given", {4}, {0, 0, 1, 1});  // torch order: last axis first, (begin, end) pairs
  auto& cos = b.node("ConstantOfShape", {"n"}, {"zeros"});
  attr_t(cos, "value", make_tensor_i64("", {1}, {0}));
  attr_i(b.node("Concat", {"given", "zeros"}, {"all"}), "axis", 0);
  b.constant_i64("pairs", {2}, {-1, 2});
  b.node("Reshape", {"all", "pairs"}, {"r"});
  b.constant_i64("s", {1}, {-1});
  b.constant_i64("e", {1}, {INT64_MIN + 1});
  b.constant_i64("a", {1}, {0});
  b.constant_i64("st", {1}, {-1});
  b.node("Slice", {"r", "s", "e", "a", "st"}, {"rev"});
  attr_ints(b.node("Transpose", {"rev"}, {"t"}), "perm", {1, 0});
  b.constant_i64("flat", {1}, {-1});
  b.node("Reshape", {"t", "flat"}, {"onnx_pads"});
  attr_i(b.node("Cast", {"onnx_pads"}, {"pads"}), "to", onnx::TensorProto::INT64);
  b.constant("v", {}, {0.0f});
  b.node("Pad", {"x", "pads", "v"}, {"y"});
  const Graph g = b.import(unoptimised());
  ASSERT_EQ(g.nodes.size(), 1u);
  // Begins (N, C, H, W) then ends: one row above and below.
  EXPECT_EQ(attrs_as<fb::PadAttrsT>(g.nodes[0]).pads, (std::vector<int64_t>{0, 0, 1, 0, 0, 0, 1, 0}));
  const Tensor y = run_model(g, {tensor_of({1, 2, 1, 1}, {5, 6})})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(values_of(y), (std::vector<float>{0, 5, 0, 0, 6, 0}));
}

TEST(ConverterFolding, MoreHostOps) {
  // Size, Div, Range, Equal, Where, Neg, Mul, Sub, Expand and Add on integers
  // compute a Reshape target.
  OnnxBuilder b(13);
  b.input("x", {2, 6}).output("y");
  b.node("Size", {"x"}, {"size"});                    // 12
  b.constant_i64("three", {}, {3});
  b.node("Div", {"size", "three"}, {"four"});         // 4
  b.constant_i64("zero", {}, {0});
  b.constant_i64("one", {}, {1});
  b.node("Range", {"zero", "three", "one"}, {"r"});   // [0, 1, 2]
  b.constant_i64("two", {}, {2});
  b.node("Equal", {"r", "two"}, {"is2"});             // [F, F, T]
  b.constant_i64("fill", {3}, {3, 1, 1});
  b.node("Where", {"is2", "four", "fill"}, {"w"});    // [3, 1, 4]
  b.node("Neg", {"one"}, {"m1"});                     // -1
  b.node("Mul", {"m1", "m1"}, {"p1"});                // 1
  b.node("Sub", {"p1", "one"}, {"z"});                // 0
  b.constant_i64("len", {1}, {3});
  b.node("Expand", {"z", "len"}, {"zeros3"});         // [0, 0, 0]
  b.node("Add", {"w", "zeros3"}, {"target"});         // [3, 1, 4]
  b.node("Reshape", {"x", "target"}, {"y0"});
  b.initializer("twos", {1}, {2.0f});
  b.node("Mul", {"y0", "twos"}, {"y"});
  ConvertReport report;
  const Graph g = b.import(unoptimised(), &report);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(g.nodes[0]).shape, (Shape{3, 1, 4}));
  EXPECT_EQ(g.nodes[1].op, OpType::Mul);
  EXPECT_EQ(report.folded_by_importer, 16) << "6 Constant nodes and 10 host-evaluated nodes";
  const Tensor y = run_model(g, {tensor_of({2, 6}, iota(12))})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(y.data()[11], 22.0f);
}

TEST(ConverterFolding, KilnOpsOnConstantsStayForFoldConstants) {
  // Mul of two float constants feeding a graph node stays a node when
  // unoptimised; the fold_constants pass folds it.
  OnnxBuilder b(13);
  b.input("x", {3}).output("y");
  b.initializer("a", {3}, {1, 2, 3});
  b.constant("b", {3}, {2, 2, 2});
  b.node("Mul", {"a", "b"}, {"ab"}, "scale");
  b.node("Add", {"x", "ab"}, {"y"});
  const Graph raw = b.import(unoptimised());
  EXPECT_TRUE(has_op(raw, OpType::Mul));
  EXPECT_EQ(raw.nodes.size(), 2u);
  const Graph opt = b.import();
  EXPECT_FALSE(has_op(opt, OpType::Mul));
  for (const Graph* g : {&raw, &opt})
    EXPECT_EQ(values_of(run_model(*g, {tensor_of({3}, {1, 1, 1})})[0]), (std::vector<float>{3, 5, 7}));
}

TEST(ConverterFolding, FloatShapeArithmeticStaysOnTheHost) {
  // Float arithmetic that only feeds a shape (a Cast to int64) is folded and
  // leaves no node behind.
  OnnxBuilder b(13);
  b.input("x", {2, 6}).output("y");
  b.node("Shape", {"x"}, {"s"});
  attr_i(b.node("Cast", {"s"}, {"sf"}), "to", onnx::TensorProto::FLOAT);
  b.constant("half", {2}, {2.0f, 0.5f});
  b.node("Mul", {"sf", "half"}, {"scaled"});  // [4, 3]
  attr_i(b.node("Cast", {"scaled"}, {"target"}), "to", onnx::TensorProto::INT64);
  b.node("Reshape", {"x", "target"}, {"y"});
  const Graph g = b.import(unoptimised());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(attrs_as<fb::ReshapeAttrsT>(g.nodes[0]).shape, (Shape{4, 3}));
}

TEST(ConverterFolding, ConstantGraphOutputGetsAnIdentity) {
  OnnxBuilder b(13);
  b.input("x", {2}).output("y").output("c");
  b.node("Relu", {"x"}, {"y"});
  b.constant("c", {2}, {4, 5});
  for (const ConvertOptions& o : {unoptimised(), ConvertOptions{}}) {
    const Graph g = b.import(o);
    ASSERT_EQ(g.outputs.size(), 2u);
    EXPECT_EQ(g.tensor(g.outputs[1]).name, "c");
    const auto outs = run_model(g, {tensor_of({2}, {-1, 1})});
    EXPECT_EQ(values_of(outs[0]), (std::vector<float>{0, 1}));
    EXPECT_EQ(values_of(outs[1]), (std::vector<float>{4, 5}));
  }
}

TEST(ConverterFolding, InitializersListedAsInputsAreConstants) {
  // IR version 3 style: every initializer is also a graph input.
  OnnxBuilder b(8);
  b.model().set_ir_version(3);
  b.input("x", {1, 2}).input("w", {2, 2}).output("y");
  b.initializer("w", {2, 2}, {1, 2, 3, 4});
  b.node("MatMul", {"x", "w"}, {"y"});
  const Graph g = b.import();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensor(g.inputs[0]).name, "x");
  EXPECT_EQ(values_of(run_model(g, {tensor_of({1, 2}, {1, 1})})[0]), (std::vector<float>{4, 6}));
}

TEST(ConverterFolding, Float16AndDoubleInitializersBecomeFloat32) {
  OnnxBuilder b(13);
  b.input("x", {2}).output("y");
  onnx::TensorProto h;
  h.set_name("h");
  h.set_data_type(onnx::TensorProto::FLOAT16);
  h.add_dims(2);
  const uint16_t halves[2] = {0x3C00, 0xC100};  // 1.0, -2.5
  h.set_raw_data(std::string(reinterpret_cast<const char*>(halves), sizeof(halves)));
  *b.graph().add_initializer() = h;
  onnx::TensorProto d;
  d.set_name("d");
  d.set_data_type(onnx::TensorProto::DOUBLE);
  d.add_dims(2);
  d.add_double_data(0.25);
  d.add_double_data(10);
  *b.graph().add_initializer() = d;
  b.node("Mul", {"x", "h"}, {"xh"});
  b.node("Add", {"xh", "d"}, {"y"});
  const Graph g = b.import(unoptimised());
  for (const TensorInfo& t : g.tensors) EXPECT_EQ(t.dtype, DataType::Float32) << t.name;
  EXPECT_EQ(values_of(run_model(g, {tensor_of({2}, {2, 2})})[0]), (std::vector<float>{2.25f, 5}));
}

TEST(ConverterFolding, SymbolicBatchAndBatchOverride) {
  OnnxBuilder b(13);
  b.input("x", {-1, 3}).output("y");
  b.node("Relu", {"x"}, {"y"});
  ConvertReport report;
  const Graph g = b.import({}, &report);
  EXPECT_EQ(g.shape(g.inputs[0]), (Shape{1, 3}));
  EXPECT_TRUE(contains(report.warnings, "symbolic batch")) << "a warning says the batch was set to 1";

  ConvertOptions o;
  o.batch = 5;
  ConvertReport report5;
  const Graph g5 = b.import(o, &report5);
  EXPECT_EQ(g5.shape(g5.inputs[0]), (Shape{5, 3}));
  EXPECT_EQ(g5.shape(g5.outputs[0]), (Shape{5, 3}));
  EXPECT_TRUE(report5.warnings.empty());
}

TEST(ConverterFolding, BatchOverrideRescalesBakedReshapeTargets) {
  // A static export with batch 1: a ShuffleNet-style channel shuffle and a
  // [1, -1] flatten both carry the batch in their targets.
  OnnxBuilder b(13);
  b.input("x", {1, 4, 1, 1}).output("y").output("f");
  b.initializer_i64("groups", {5}, {1, 2, 2, 1, 1});
  b.node("Reshape", {"x", "groups"}, {"g"});
  attr_ints(b.node("Transpose", {"g"}, {"gt"}), "perm", {0, 2, 1, 3, 4});
  b.initializer_i64("back", {4}, {1, 4, 1, 1});
  b.node("Reshape", {"gt", "back"}, {"y"});
  b.initializer_i64("flat", {2}, {1, -1});
  b.node("Reshape", {"x", "flat"}, {"f"});

  const Graph g1 = b.import();
  const auto y1 = run_model(g1, {tensor_of({1, 4, 1, 1}, {0, 1, 2, 3})});
  EXPECT_EQ(values_of(y1[0]), (std::vector<float>{0, 2, 1, 3}));

  ConvertOptions o;
  o.batch = 2;
  ConvertReport report;
  const Graph g2 = b.import(o, &report);
  EXPECT_EQ(g2.shape(g2.outputs[0]), (Shape{2, 4, 1, 1}));
  EXPECT_EQ(g2.shape(g2.outputs[1]), (Shape{2, 4}));
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("3 Reshape target(s) had the exported batch 1"), std::string::npos)
      << report.warnings[0];
  const auto y2 = run_model(g2, {tensor_of({2, 4, 1, 1}, {0, 1, 2, 3, 4, 5, 6, 7})});
  EXPECT_EQ(values_of(y2[0]), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(ConverterFolding, NamesAndProducer) {
  OnnxBuilder b(13);
  b.input("input", {2}).output("out");
  b.node("Relu", {"input"}, {"mid"});
  b.node("Sigmoid", {"mid"}, {"out"}, "named_sigmoid");
  ConvertReport report;
  const Graph g = b.import(unoptimised(), &report);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "Relu_0");
  EXPECT_EQ(g.nodes[1].name, "named_sigmoid");
  EXPECT_EQ(g.tensor(g.nodes[0].outputs[0]).name, "mid");
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "out");
  EXPECT_EQ(g.producer, "kiln-convert from kiln-test 1.0");
  EXPECT_EQ(report.onnx_producer, "kiln-test 1.0");
  EXPECT_EQ(report.opset, 13);
  EXPECT_EQ(report.onnx_nodes, 2);
  EXPECT_EQ(report.kiln_nodes, 2);
  EXPECT_TRUE(report.passes.empty());
}

TEST(ConverterFolding, ConvertOnnxFileWritesALoadableModel) {
  OnnxBuilder b(13);
  b.input("x", {1, 2}).output("y");
  b.node("Relu", {"x"}, {"y"});
  const std::string kiln_path = temp_path("relu.kiln");
  const ConvertReport r = convert_onnx_file(b.save(), kiln_path, {});
  EXPECT_TRUE(r.known_model.empty());
  EXPECT_EQ(r.passes.size(), 6u);  // eliminate_identity .. fuse_activations, fold_qdq, remove_dead_nodes
  Model m = Model::load(kiln_path);
  Session s(m);
  EXPECT_EQ(values_of(s.run({tensor_of({1, 2}, {-1, 2})})[0]), (std::vector<float>{0, 2}));
  EXPECT_EQ(m.producer(), "kiln-convert from kiln-test 1.0");
}

TEST(ConverterFolding, ReadTensorProto) {
  onnx::TensorProto t = make_tensor("values", {2, 2}, {1, 2, 3, 4});
  const NamedTensor n = read_tensor_proto(write_temp_file("t.pb", t.SerializeAsString()));
  EXPECT_EQ(n.name, "values");
  EXPECT_EQ(n.tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of(n.tensor), (std::vector<float>{1, 2, 3, 4}));

  const std::string ints = write_temp_file("i.pb", make_tensor_i64("i", {1}, {3}).SerializeAsString());
  try {
    read_tensor_proto(ints);
    FAIL() << "int64 tensors are not float";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("INT64"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(ints), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
