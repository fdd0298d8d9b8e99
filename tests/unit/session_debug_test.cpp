// Session debug mode: SessionOptions::keep_intermediates and Session::run_all.
// On the reference backend every kept tensor must be bit for bit what a
// session computing only that tensor gives (a model whose single output it
// is), so the mode shows the values of the graph the user runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "engine/core/graph.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.size_bytes()) == 0;
}

// The model with `tensor` as its only output (nodes after it still run: the
// reference backend runs every node).
Model with_single_output(const Model& model, const std::string& tensor) {
  auto g = std::make_shared<Graph>(model.graph());
  g->outputs.clear();
  for (size_t t = 0; t < g->tensors.size(); ++t)
    if (g->tensors[t].name == tensor) g->outputs.push_back(static_cast<TensorId>(t));
  EXPECT_EQ(g->outputs.size(), 1u) << tensor;
  return Model(std::move(g));
}

void expect_each_kept_tensor_is_its_own_run(const std::string& onnx_relative) {
  const auto path = shared_model(onnx_relative);
  if (!path) GTEST_SKIP() << missing_shared(onnx_relative);
  const Model& model = import_model(*path);
  SessionOptions o = reference_options();
  o.keep_intermediates = true;
  Session session(model, o);
  const Tensor input = model_input(model, {});
  const std::vector<NodeOutput> all = session.run_all({input});

  size_t outputs = 0;
  for (const Node& n : model.graph().nodes) outputs += n.outputs.size();
  EXPECT_EQ(all.size(), outputs) << "every node output of these models is float32, uint8 or int8";
  size_t graph_outputs = 0;
  for (const NodeOutput& k : all) {
    ASSERT_LT(k.node_index, model.graph().nodes.size());
    const Node& n = model.graph().nodes[k.node_index];
    EXPECT_EQ(k.node, n.name);
    EXPECT_EQ(k.op, std::string(fb::EnumNameOpType(n.op)));
    Session single(with_single_output(model, k.desc.name), reference_options());
    EXPECT_TRUE(same_bytes(single.run({input})[0], k.value)) << k.node << " -> " << k.desc.name;
    graph_outputs += k.graph_output ? 1 : 0;
  }
  EXPECT_EQ(graph_outputs, model.outputs().size());

  // run() on the same session still gives the model's outputs, bit for bit.
  const std::vector<Tensor> plain = session.run({input});
  for (const NodeOutput& k : all)
    if (k.graph_output) {
      EXPECT_TRUE(same_bytes(plain[session.output_index(k.desc.name)], k.value));
    }
  EXPECT_EQ(session.outputs().size(), model.outputs().size()) << "the kept tensors are not the session's outputs";
}

TEST(SessionDebug, EveryKeptFloatTensorIsWhatASessionComputingItAloneGives) {
  expect_each_kept_tensor_is_its_own_run("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
}

TEST(SessionDebug, EveryKeptQuantizedTensorIsWhatASessionComputingItAloneGives) {
  expect_each_kept_tensor_is_its_own_run("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_qdq.onnx");
}

TEST(SessionDebug, RunAllNeedsASessionThatKeepsIntermediates) {
  const auto path = shared_model("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  if (!path) GTEST_SKIP() << missing_shared("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const Model& model = import_model(*path);
  Session session(model, reference_options());
  try {
    session.run_all({model_input(model, {})});
    FAIL() << "run_all ran without keep_intermediates";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("keep_intermediates"));
  }
}

TEST(SessionDebug, RunAllChecksItsInputsLikeRun) {
  const auto path = shared_model("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  if (!path) GTEST_SKIP() << missing_shared("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const Model& model = import_model(*path);
  SessionOptions o = reference_options();
  o.keep_intermediates = true;
  Session session(model, o);
  EXPECT_THROW(session.run_all({Tensor({1, 3, 7, 7})}), Error);
  EXPECT_THROW(session.run_all({}), Error);
}

}  // namespace
}  // namespace kiln::test
