// The ONNX writer (converter/export*.cpp): graphs written as ONNX and read
// back by Kiln's own importer compute the same bits — the graph with every op
// as it is, and a model quantized by engine/quantize in its QDQ form, whose
// re-import must fold into the very int8 model kiln quantize writes. Nodes
// with no ONNX form are refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "apps/common/quantize.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/passes/passes.hpp"
#include "engine/quantize/quantize_graph.hpp"
#include "kiln/convert.hpp"
#include "onnx/onnx_pb.h"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
using O = OpType;
using K = fb::ActivationKind;

Graph reimport(const Graph& g, bool optimize) {
  const std::string bytes = export_onnx_bytes(g);
  ConvertOptions o;
  o.optimize = optimize;
  return import_onnx_bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "exported.onnx", o);
}

std::vector<Tensor> run_on(const Graph& g, const std::vector<Tensor>& inputs, const std::string& backend) {
  SessionOptions o;
  o.backend = backend;
  o.threads = 1;
  Session s(Model(std::make_shared<const Graph>(g)), o);
  return s.run(inputs);
}

TEST(ExportOnnx, EveryOpRoundTripsToTheSameBits) {
  const Graph g = all_ops_graph();
  const Graph back = reimport(g, /*optimize=*/false);
  ASSERT_EQ(back.inputs.size(), g.inputs.size());
  ASSERT_EQ(back.outputs.size(), g.outputs.size());
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    EXPECT_EQ(back.tensor(back.outputs[i]).name, g.tensor(g.outputs[i]).name);
    EXPECT_EQ(back.shape(back.outputs[i]), g.shape(g.outputs[i]));
  }
  for (uint32_t seed : {1u, 2u}) {
    const std::vector<Tensor> in = random_inputs(g, seed);
    EXPECT_TRUE(bitwise_equal(run_on(back, in, "reference"), run_on(g, in, "reference"))) << "seed " << seed;
  }
}

TEST(ExportOnnx, FusedActivationsBecomeExplicitNodes) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 5, 5});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {3, 2, 3, 3}, 1), b.random_constant("b", {3}, 2)},
                            conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(K::Clip, 0.0f, 6.0f)), "conv");
  b.output(b.node(O::Add, {c, c}, binary_attrs(act(K::LeakyRelu, 0.1f)), "add"));
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(export_onnx_bytes(b.build())));
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  EXPECT_THAT(ops, ::testing::ElementsAre("Conv", "Clip", "Add", "LeakyRelu"));
  // Imported and optimised, they fuse back: the same two nodes as before.
  const Graph back = reimport(b.build(), /*optimize=*/true);
  ASSERT_EQ(back.nodes.size(), 2u);
  EXPECT_EQ(attrs_as<fb::ConvAttrsT>(back.nodes[0]).activation.kind(), K::Clip);
  EXPECT_EQ(attrs_as<fb::BinaryAttrsT>(back.nodes[1]).activation.kind(), K::LeakyRelu);
}

// x -> Conv (Relu) -> MaxPool -> Conv 1x1 (Clip 0..6) -> Add (Relu) with the
// pool -> GlobalAveragePool -> Flatten -> Gemm (transB) -> Softmax.
Graph small_cnn() {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 12, 12});
  const TensorId c1 = b.node(O::Conv, {x, b.random_constant("w1", {8, 3, 3, 3}, 1), b.random_constant("b1", {8}, 2)},
                             conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(K::Relu)), "conv1");
  const TensorId p = b.node(O::MaxPool, {c1}, pool_attrs({2, 2}, {2, 2}), "pool");
  const TensorId c2 = b.node(O::Conv, {p, b.random_constant("w2", {8, 8, 1, 1}, 3), b.random_constant("b2", {8}, 4)},
                             conv_attrs({1, 1}, {}, {}, {}, 1, act(K::Clip, 0.0f, 6.0f)), "conv2");
  const TensorId a = b.node(O::Add, {p, c2}, binary_attrs(act(K::Relu)), "add");
  const TensorId g = b.node(O::GlobalAveragePool, {a}, no_attrs(), "gap");
  const TensorId f = b.node(O::Flatten, {g}, flatten_attrs(1), "flatten");
  const TensorId fc = b.node(O::Gemm, {f, b.random_constant("wf", {10, 8}, 5), b.random_constant("bf", {10}, 6)},
                             gemm_attrs(1.0f, 1.0f, false, true), "fc");
  b.output(b.node(O::Softmax, {fc}, softmax_attrs(1), "softmax"));
  return b.build();
}

std::vector<ptq::InputSet> sets_of(const Graph& g, int count) {
  std::vector<ptq::InputSet> sets;
  for (int i = 0; i < count; ++i) sets.push_back({numbered("random ", i), random_inputs(g, 10 + i)});
  return sets;
}

TEST(ExportOnnx, QuantizedModelRoundTripsToTheSameInt8Model) {
  const Graph g = small_cnn();
  const Model float_model(std::make_shared<const Graph>(g));
  const quantize::Calibration cal = ptq::calibrate(float_model, sets_of(g, 4), reference_options());
  for (auto granularity : {quantize::WeightGranularity::PerChannel, quantize::WeightGranularity::PerTensor}) {
    quantize::QuantizeOptions opt;
    opt.weights = granularity;
    const quantize::Result r = quantize::quantize_graph(g, cal.ranges(quantize::Method::MinMax), opt);
    EXPECT_GE(r.quantized.size(), 6u) << "conv1, pool, conv2, add, gap, flatten, fc: all int8";
    const Graph back = reimport(r.qdq, /*optimize=*/true);
    // The same nodes in their int8 form, and the same bits on both integer backends.
    std::vector<std::string> quantized;
    for (const Node& n : back.nodes)
      if (n.op != O::QuantizeLinear && n.op != O::DequantizeLinear && is_quantized_node(back, n))
        quantized.push_back(n.name);
    EXPECT_EQ(quantized, r.quantized);
    EXPECT_EQ(back.nodes.size(), r.graph.nodes.size());
    for (const char* backend : {"reference", "cpu"})
      for (uint32_t seed : {20u, 21u}) {
        const std::vector<Tensor> in = random_inputs(g, seed);
        EXPECT_TRUE(bitwise_equal(run_on(back, in, backend), run_on(r.graph, in, backend)))
            << backend << ", seed " << seed;
      }
  }
}

TEST(ExportOnnx, NodesWithoutAnOnnxFormAreNamed) {
  const Graph g = small_cnn();
  const Model float_model(std::make_shared<const Graph>(g));
  const quantize::Calibration cal = ptq::calibrate(float_model, sets_of(g, 2), reference_options());
  const quantize::Result r = quantize::quantize_graph(g, cal.ranges(quantize::Method::MinMax), {});
  // After fold_qdq the Conv computes on uint8: there is no such ONNX Conv.
  try {
    export_onnx_bytes(r.graph);
    FAIL() << "a folded graph was written";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_THAT(e.what(), HasSubstr("'conv1' (Conv)"));
    EXPECT_THAT(e.what(), HasSubstr("before the Q/DQ pairs are folded"));
  }
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3, 4, 5});
  b.output(b.node(O::AveragePool, {x}, pool_attrs({2, 2}, {}, {}, {2, 2}), "dilated_pool"));
  try {
    export_onnx_bytes(b.build());
    FAIL() << "a dilated AveragePool was written in opset 14";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_THAT(e.what(), HasSubstr("'dilated_pool' (AveragePool)"));
  }
}

// Softmax jointly over the axes from `axis` on (opsets before 13): one Softmax
// where the later axes have size 1, else over the input flattened at `axis`.
TEST(ExportOnnx, SoftmaxOverTrailingAxesKeepsItsMeaning) {
  for (const Shape& shape : {Shape{2, 3, 4}, Shape{2, 5, 1, 1}}) {
    GraphBuilder b;
    const TensorId x = b.input("x", shape);
    b.output(b.node(O::Softmax, {x}, softmax_attrs(1, /*over_trailing_axes=*/true), "old_softmax"));
    const Graph g = b.build();
    const Graph back = reimport(g, /*optimize=*/false);
    EXPECT_EQ(back.nodes.size(), shape.size() == 4 ? 1u : 3u) << shape_to_string(shape);
    const std::vector<Tensor> in = random_inputs(g, 3);
    EXPECT_LE(max_relative_error_of(run_on(back, in, "reference"), run_on(g, in, "reference")), 1e-6)
        << shape_to_string(shape);
  }
}

}  // namespace
}  // namespace kiln::test
