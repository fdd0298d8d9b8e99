// Every op of the reference backend on backend "cuda", on random inputs,
// against the reference backend (max|a-b| / max|ref| <= 1e-4). Needs a CUDA
// device: without one every test skips, naming what is missing.
#include <fmt/format.h>

#include "engine/core/op_info.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cuda/cuda_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

// Builds the graph, runs it on the reference backend and keeps it for the comparison.
void check(CudaCases& cases, const GraphBuilder& b, uint32_t seed, const std::string& what, float lo = -1.0f,
           float hi = 1.0f) {
  const Graph g = b.build();
  cases.add(g, random_inputs(g, seed, lo, hi), what);
}

TEST(CudaBackend, IsRegisteredAndReportsAMissingDeviceClearly) {
  const auto names = available_backends();
  ASSERT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  if (cuda_unavailable_reason().empty()) {
    EXPECT_FALSE(list_devices("cuda").empty());
    return;
  }
  // No device here: the listing and a session both fail with the same clear message.
  EXPECT_EQ(cuda_unavailable_reason().rfind("no CUDA device: ", 0), 0u) << cuda_unavailable_reason();
  EXPECT_NE(cuda_unavailable_reason().find("--backend cpu"), std::string::npos) << cuda_unavailable_reason();
  GraphBuilder b;
  b.output(b.node(O::Relu, {b.input("x", {1, 2})}));
  const Model model(std::make_shared<Graph>(b.build()));
  try {
    Session s(model, cuda_options());
    ADD_FAILURE() << "a cuda session was created without a device";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("no CUDA device: ", 0), 0u) << e.what();
  }
}

TEST(CudaOps, AllOpsGraph) {
  CudaCases cases;
  const Graph g = all_ops_graph();
  cases.add(g, random_inputs(g, 7), "all_ops_graph");
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaOps, Pools) {
  CudaCases cases;
  struct Case {
    O op;
    Shape x;
    std::vector<int32_t> k, s, p, d;
    bool ceil = false, cip = false;
  };
  const std::vector<Case> pools = {
      {O::MaxPool, {1, 19, 13, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
      {O::MaxPool, {1, 7, 10, 10}, {3, 3}, {2, 2}, {}, {}, true},
      {O::MaxPool, {1, 33, 9, 11}, {3, 2}, {1, 2}, {1, 0, 0, 1}, {}},
      {O::MaxPool, {1, 17, 11, 11}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},
      {O::MaxPool, {2, 3, 12}, {3}, {2}, {1, 0}, {}},
      {O::AveragePool, {1, 19, 7, 7}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {}, false, true},
      {O::AveragePool, {2, 9, 10, 9}, {3, 3}, {2, 2}, {0, 1, 2, 1}, {}, true, false},
      {O::AveragePool, {1, 16, 9, 9}, {2, 3}, {1, 1}, {1, 1, 0, 1}, {2, 1}, false, true},
      {O::AveragePool, {1, 2, 5, 6, 7}, {2, 3, 3}, {1, 2, 1}, {0, 1, 1, 1, 0, 1}, {}, false, false},
  };
  int i = 0;
  for (const Case& c : pools) {
    GraphBuilder b;
    b.output(b.node(c.op, {b.input("x", c.x)}, pool_attrs(c.k, c.s, c.p, c.d, c.ceil, c.cip)));
    check(cases, b, 10 + static_cast<uint32_t>(i), fmt::format("pool case {}", i));
    ++i;
  }
  for (O op : {O::GlobalAveragePool, O::GlobalMaxPool}) {
    GraphBuilder b;
    b.output(b.node(op, {b.input("x", {2, 67, 15, 17})}));
    check(cases, b, 30, std::string(op_name(op)));
  }
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaOps, ActivationsAndBatchNorm) {
  CudaCases cases;
  const std::vector<std::pair<O, fb::AttributesUnion>> acts = {
      {O::Relu, no_attrs()},
      {O::Clip, make_attrs(clip_attrs(-0.5f, 0.75f))},
      {O::LeakyRelu, make_attrs(leaky_relu_attrs(0.2f))},
      {O::Sigmoid, no_attrs()},
      {O::HardSigmoid, make_attrs(hard_sigmoid_attrs(0.3f, 0.4f))},
      {O::HardSwish, no_attrs()},
      {O::Tanh, no_attrs()}};
  for (const auto& [op, attrs] : acts) {
    GraphBuilder b;
    b.output(b.node(op, {b.input("x", {2, 7, 5, 3})}, attrs));
    check(cases, b, 40, std::string(op_name(op)), -8.0f, 8.0f);
  }
  {  // constant statistics (folded into scale/shift) ...
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 5, 4, 3});
    b.output(b.node(O::BatchNormalization,
                    {x, b.random_constant("s", {5}, 1), b.random_constant("b", {5}, 2), b.random_constant("m", {5}, 3),
                     b.random_constant("v", {5}, 4, 0.5f, 2.0f)},
                    batchnorm_attrs(1e-3f)));
    check(cases, b, 41, "BatchNormalization, constant statistics");
  }
  {  // ... and statistics computed at run time
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 5, 4, 3});
    const TensorId v = b.node(O::Relu, {b.input("var", {5})});
    const TensorId v1 = b.node(O::Add, {v, b.constant("one", {1}, {1.0f})}, binary_attrs());
    b.output(b.node(O::BatchNormalization, {x, b.input("s", {5}), b.input("b", {5}), b.input("m", {5}), v1},
                    batchnorm_attrs(1e-5f)));
    check(cases, b, 42, "BatchNormalization, statistics from inputs");
  }
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaOps, BinaryWithBroadcastAndActivation) {
  CudaCases cases;
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3, 4, 5}, {5}},
      {{1, 3, 1, 5}, {2, 1, 4, 1}}, {{7}, {3, 1}},             {{2, 67, 3, 3}, {1, 67, 1, 1}}};
  for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
    for (const auto& [sa, sb] : shapes) {
      GraphBuilder b;
      const TensorId a = b.input("a", sa);
      const TensorId c = b.random_constant("c", sb, 5, op == O::Div ? 0.5f : -1.0f, 2.0f);
      b.output(b.node(op, {a, c}, binary_attrs(act(K::Relu))));
      check(cases, b, 50, fmt::format("{} {} by {}", op_name(op), shape_to_string(sa), shape_to_string(sb)));
    }
  }
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaOps, GemmAndMatMul) {
  CudaCases cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      GraphBuilder b;
      const TensorId a = b.input("a", ta ? Shape{37, 5} : Shape{5, 37});
      const TensorId w = b.random_constant("w", tb ? Shape{11, 37} : Shape{37, 11}, 3);
      const TensorId c = b.random_constant("c", {11}, 4);
      b.output(b.node(O::Gemm, {a, w, c}, gemm_attrs(0.5f, 2.0f, ta, tb, act(K::Clip, -1.0f, 1.0f))));
      check(cases, b, 60, fmt::format("Gemm ta {} tb {}", ta, tb));
    }
  {
    GraphBuilder b;
    const TensorId a = b.input("a", {3, 4, 5});
    b.output(b.node(O::Gemm,
                    {b.node(O::Flatten, {a}, flatten_attrs(1)), b.random_constant("w", {20, 6}, 9),
                     b.random_constant("c3", {3, 1}, 4)},
                    gemm_attrs(1.0f, 1.0f)));
    b.output(b.node(O::Gemm, {b.input("m", {4, 20}), b.random_constant("w2", {20, 4}, 10), b.random_constant("c1", {1}, 5)},
                    gemm_attrs(1.0f, 0.5f)));
    check(cases, b, 61, "Gemm with C broadcast along rows");
  }
  const std::vector<std::pair<Shape, Shape>> mm = {
      {{5, 7}, {7, 3}}, {{2, 5, 7}, {7, 3}}, {{2, 1, 5, 7}, {3, 7, 4}}, {{7}, {7, 3}}, {{4, 7}, {7}}};
  for (const auto& [sa, sb] : mm) {
    GraphBuilder b;
    b.output(b.node(O::MatMul, {b.input("a", sa), b.input("b", sb)}));
    check(cases, b, 62, fmt::format("MatMul {} x {}", shape_to_string(sa), shape_to_string(sb)));
  }
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaOps, DataMovement) {
  CudaCases cases;
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 4, 5});
    b.output(b.node(O::Transpose, {x}, transpose_attrs({0, 2, 3, 1})));
    b.output(b.node(O::Transpose, {x}, transpose_attrs({3, 1, 0, 2})));
    check(cases, b, 70, "Transpose");
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 4, 5});
    const TensorId y = b.input("y", {2, 6, 4, 5});
    b.output(b.node(O::Concat, {x, y, x}, concat_attrs(1)));
    b.output(b.node(O::Concat, {x, x}, concat_attrs(3)));
    const auto parts = b.node_n(O::Split, {y}, make_attrs(split_attrs(1, {1, 2, 3})), 3);
    for (TensorId p : parts) b.output(p);
    check(cases, b, 71, "Concat and Split");
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {3, 8, 9, 10});
    b.output(b.node(O::Slice, {x}, slice_attrs({1, -2, 8}, {3, 0, 1}, {1, 2, 3}, {1, -3, -2})));
    b.output(b.node(O::Slice, {x}, slice_attrs({0}, {100}, {3}, {4})));
    b.output(b.node(O::Pad, {x}, pad_attrs({0, 1, 2, -1, 0, 2, -3, 1}, 0.5f)));
    check(cases, b, 72, "Slice and Pad");
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 4, 5});
    b.output(b.node(O::ReduceMean, {x}, reduce_attrs({1, 3}, true)));
    b.output(b.node(O::ReduceMean, {x}, reduce_attrs({}, false)));
    b.output(b.node(O::Softmax, {x}, softmax_attrs(1)));
    b.output(b.node(O::Softmax, {x}, softmax_attrs(2, true)));
    b.output(b.node(O::Reshape, {b.node(O::Relu, {x})}, reshape_attrs({6, 20})));
    b.output(b.node(O::Unsqueeze, {b.node(O::Squeeze, {b.input("s", {1, 7, 1})}, axes_attrs({0, 2}))}, axes_attrs({1})));
    check(cases, b, 73, "ReduceMean, Softmax and reshape-like ops", -4.0f, 4.0f);
  }
  KILN_CUDA_COMPARE(cases);
}

}  // namespace
}  // namespace kiln::test
