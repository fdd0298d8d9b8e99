// Graph passes: each pass on a small graph, checking the graph after it (node
// count, ops, fused activation, pipeline record) and that the optimised graph
// computes the same outputs as the original on random inputs. Also the cases
// where a pass must leave the graph alone.
#include <algorithm>
#include <cmath>
#include <set>

#include "engine/core/op_info.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/core/validate.hpp"
#include "engine/passes/passes.hpp"
#include "gmock/gmock.h"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
using O = OpType;
using K = fb::ActivationKind;

// Runs a pass the way run_passes does (dropping unused tensors and validating).
int apply(int (*pass)(Graph&), Graph& g) {
  const int n = pass(g);
  g.remove_unused_tensors();
  validate_graph(g);
  return n;
}

// Same inputs, same output names, outputs within `rel` of the original's.
void expect_same_outputs(const Graph& before, const Graph& after, uint32_t seed = 1, double rel = 1e-5) {
  ASSERT_EQ(before.inputs.size(), after.inputs.size());
  for (size_t i = 0; i < before.inputs.size(); ++i)
    ASSERT_EQ(before.shape(before.inputs[i]), after.shape(after.inputs[i]));
  ASSERT_EQ(before.outputs.size(), after.outputs.size());
  for (size_t i = 0; i < before.outputs.size(); ++i)
    EXPECT_EQ(before.tensor(before.outputs[i]).name, after.tensor(after.outputs[i]).name) << "output " << i;
  for (uint32_t s = seed; s < seed + 3; ++s) {
    const auto inputs = random_inputs(before, s, -2.0f, 2.0f);
    const auto want = run_graph(before, inputs);
    const auto got = run_graph(after, inputs);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(tensors_close(got[i], want[i], rel)) << "output " << i;
  }
}

std::vector<O> ops_of(const Graph& g) {
  std::vector<O> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op);
  return ops;
}

TensorId output_named(const Graph& g, const std::string& name) {
  for (TensorId t : g.outputs)
    if (g.tensor(t).name == name) return t;
  throw std::runtime_error("no output " + name);
}

// ---- eliminate_identity ----------------------------------------------------------

TEST(EliminateIdentity, RemovesIdentityAndDropoutBetweenNodes) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 6, 6});
  TensorId t = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1)}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}));
  t = b.node(O::Identity, {t});
  t = b.node(O::Dropout, {t});
  t = b.node(O::Identity, {t});
  t = b.node(O::Relu, {t}, {}, "relu");
  b.output(t);
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 3);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::Relu}));
  EXPECT_EQ(g.nodes[1].inputs[0], g.nodes[0].outputs[0]);
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, GraphOutputKeepsItsNameWhenTheProducerWritesIt) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 5});
  const TensorId r = b.node(O::Sigmoid, {x});
  b.output(b.node(O::Identity, {r}, {}, "final"));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, O::Sigmoid);
  EXPECT_EQ(g.tensor(g.nodes[0].outputs[0]).name, "final_out");
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "final_out");
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, OtherReadersOfTheInputFollowTheRename) {
  // t = Conv(x); r = Relu(t) comes before y = Identity(t), and y is a graph
  // output: the Conv now writes y, so Relu must read y too.
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 5, 5});
  const TensorId t = b.node(O::Conv, {x, b.random_constant("w", {3, 2, 3, 3}, 2)}, conv_attrs({3, 3}), "conv");
  const TensorId r = b.node(O::Relu, {t}, {}, "relu");
  const TensorId y = b.node(O::Identity, {t}, {}, "id");
  const TensorId s = b.node(O::Sigmoid, {t}, {}, "sigmoid");  // a reader after the Identity
  b.output(y);
  b.output(r);
  b.output(s);
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::Relu, O::Sigmoid}));
  const TensorId out = output_named(g, "id_out");
  EXPECT_EQ(g.nodes[0].outputs[0], out);
  EXPECT_EQ(g.nodes[1].inputs[0], out);
  EXPECT_EQ(g.nodes[2].inputs[0], out);
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, KeepsIdentityFromGraphInputToGraphOutput) {
  GraphBuilder b;
  const TensorId x = b.input("x", {3});
  b.output(b.node(O::Identity, {x}));
  b.output(b.node(O::Relu, {x}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Identity, O::Relu}));
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, KeepsIdentityFromConstantToGraphOutputAndBetweenTwoOutputs) {
  GraphBuilder b;
  const TensorId x = b.input("x", {3});
  const TensorId c = b.constant("c", {3}, {1, 2, 3});
  const TensorId s = b.node(O::Add, {x, c}, binary_attrs());
  b.output(b.node(O::Identity, {c}));
  b.output(s);
  b.output(b.node(O::Dropout, {s}));  // its input is itself a graph output
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 0);
  EXPECT_EQ(g.nodes.size(), 3u);
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, ChainsAndRenamesMadeLaterReachEveryReader) {
  // a = Identity(t) feeds another Identity and a graph-output Identity y: the
  // Relu then writes y, and readers of a or b, before and after y, read y.
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3});
  const TensorId t = b.node(O::Relu, {x}, {}, "relu");
  const TensorId a = b.node(O::Identity, {t}, {}, "a");
  const TensorId bb = b.node(O::Identity, {a}, {}, "b");
  const TensorId s = b.node(O::Sigmoid, {bb}, {}, "sigmoid");
  const TensorId y = b.node(O::Identity, {a}, {}, "y");
  const TensorId h = b.node(O::Tanh, {bb}, {}, "tanh");
  b.output(y);
  b.output(s);
  b.output(h);
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(eliminate_identity, g), 3);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Relu, O::Sigmoid, O::Tanh}));
  const TensorId out = output_named(g, "y_out");
  EXPECT_EQ(g.nodes[0].outputs[0], out);
  EXPECT_EQ(g.nodes[1].inputs[0], out);
  EXPECT_EQ(g.nodes[2].inputs[0], out);
  expect_same_outputs(before, g);
}

TEST(EliminateIdentity, ThousandsOfBranchesAllReadTheInput) {
  // The shape of graph that made the pass quadratic (one rewrite of every
  // node per Identity); here only the result is checked, not the time.
  constexpr int kBranches = 3000;
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2});
  std::vector<TensorId> branches;
  for (int i = 0; i < kBranches; ++i) branches.push_back(b.node(O::Relu, {b.node(O::Identity, {x})}));
  b.output(b.node(O::Concat, branches, concat_attrs(0)));
  Graph g = b.build();
  EXPECT_EQ(apply(eliminate_identity, g), kBranches);
  ASSERT_EQ(g.nodes.size(), static_cast<size_t>(kBranches) + 1);
  for (int i = 0; i < kBranches; ++i) ASSERT_EQ(g.nodes[static_cast<size_t>(i)].inputs[0], g.inputs[0]) << i;
}

// ---- fold_constants --------------------------------------------------------------

TEST(FoldConstants, TransposeOfAConstantBecomesAConstant) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3});
  const TensorId w = b.constant("w", {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  const TensorId wt = b.node(O::Transpose, {w}, transpose_attrs({1, 0}));
  b.output(b.node(O::MatMul, {x, wt}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_constants, g), 1);
  ASSERT_EQ(ops_of(g), (std::vector<O>{O::MatMul}));
  const TensorInfo& folded = g.tensor(g.nodes[0].inputs[1]);
  ASSERT_TRUE(folded.is_constant());
  EXPECT_EQ(folded.shape, (Shape{3, 4}));
  const std::vector<float> values(folded.constant->floats(), folded.constant->floats() + 12);
  EXPECT_EQ(values, (std::vector<float>{1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}));
  expect_same_outputs(before, g);
}

TEST(FoldConstants, ChainsFoldInOneCallAndSplitGivesSeveralConstants) {
  GraphBuilder b;
  const TensorId x = b.input("x", {3});
  const TensorId s = b.node(O::Add, {b.constant("c1", {3}, {1, -2, 3}), b.constant("c2", {3}, {-4, 1, 1})},
                            binary_attrs());                   // [-3, -1, 4]
  const TensorId r = b.node(O::Relu, {s});                    // [0, 0, 4]
  const auto parts = b.node_n(O::Split, {b.constant("c3", {4}, {5, 6, 7, 8})}, make_attrs(split_attrs(0, {1, 3})), 2);
  const TensorId m = b.node(O::Mul, {x, r}, binary_attrs());
  const TensorId cat = b.node(O::Concat, {m, parts[1]}, concat_attrs(0));  // [6]
  b.output(b.node(O::Add, {cat, b.node(O::Pad, {parts[0]}, pad_attrs({5, 0}))},
                  binary_attrs()));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_constants, g), 4);  // Add, Relu, Split, Pad
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Mul, O::Concat, O::Add}));
  const TensorInfo& relu = g.tensor(g.nodes[0].inputs[1]);
  ASSERT_TRUE(relu.is_constant());
  EXPECT_EQ(std::vector<float>(relu.constant->floats(), relu.constant->floats() + 3), (std::vector<float>{0, 0, 4}));
  const TensorInfo& tail = g.tensor(g.nodes[1].inputs[1]);
  ASSERT_TRUE(tail.is_constant());
  EXPECT_EQ(std::vector<float>(tail.constant->floats(), tail.constant->floats() + 3), (std::vector<float>{6, 7, 8}));
  expect_same_outputs(before, g);
}

TEST(FoldConstants, NodeFeedingAGraphOutputStays) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2});
  const TensorId c = b.node(O::Sigmoid, {b.constant("c", {2}, {0, 1})});
  b.output(c);
  b.output(b.node(O::Add, {x, c}, binary_attrs()));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_constants, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Sigmoid, O::Add}));
  expect_same_outputs(before, g);
}

TEST(FoldConstants, ANodeMakingFarMoreThanItReadsStays) {
  // A 4-byte constant padded to 2^23 + 1 floats (32 MiB): folding would have
  // the converter allocate what a few bytes of model claim. A small pad folds.
  constexpr int64_t kPad = int64_t{1} << 23;
  GraphBuilder b;
  const TensorId big = b.node(O::Pad, {b.constant("c", {1}, {2.0f})}, pad_attrs({0, kPad}), "big_pad");
  const TensorId x = b.input("x", {kPad + 1});
  const TensorId small = b.node(O::Pad, {b.constant("d", {1}, {3.0f})}, pad_attrs({0, 99}), "small_pad");
  const TensorId y = b.input("y", {100});
  b.output(b.node(O::Add, {x, big}, binary_attrs()));
  b.output(b.node(O::Add, {y, small}, binary_attrs()));
  Graph g = b.build();
  EXPECT_EQ(apply(fold_constants, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Pad, O::Add, O::Add}));
  EXPECT_EQ(g.nodes[0].name, "big_pad");
  const TensorInfo& folded = g.tensor(g.nodes[2].inputs[1]);
  ASSERT_TRUE(folded.is_constant());
  EXPECT_EQ(folded.constant->floats()[0], 3.0f);
  EXPECT_EQ(folded.constant->floats()[99], 0.0f);
}

// ---- fold_batchnorm --------------------------------------------------------------

TensorId add_bn(GraphBuilder& b, TensorId x, int64_t c, uint32_t seed, const std::string& name = "bn") {
  return b.node(O::BatchNormalization,
                {x, b.random_constant(name + "_scale", {c}, seed, 0.5f, 2.0f), b.random_constant(name + "_bias", {c}, seed + 1),
                 b.random_constant(name + "_mean", {c}, seed + 2), b.random_constant(name + "_var", {c}, seed + 3, 0.2f, 2.0f)},
                batchnorm_attrs(1e-3f), name);
}

TEST(FoldBatchnorm, IntoConvWithAndWithoutBias) {
  for (bool bias : {false, true}) {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 7, 6});
    std::vector<TensorId> in{x, b.random_constant("w", {5, 3, 3, 2}, 1)};
    if (bias) in.push_back(b.random_constant("b", {5}, 2));
    const TensorId c = b.node(O::Conv, in, conv_attrs({3, 2}, {2, 1}, {1, 0, 1, 1}), "conv");
    b.output(add_bn(b, c, 5, 10));
    const Graph before = b.build();
    Graph g = before;
    EXPECT_EQ(apply(fold_batchnorm, g), 1) << "bias " << bias;
    ASSERT_EQ(ops_of(g), (std::vector<O>{O::Conv}));
    EXPECT_EQ(g.nodes[0].inputs.size(), 3u);
    EXPECT_TRUE(g.tensor(g.nodes[0].inputs[1]).is_constant());
    EXPECT_TRUE(g.tensor(g.nodes[0].inputs[2]).is_constant());
    EXPECT_EQ(g.tensor(g.nodes[0].outputs[0]).name, "bn_out");
    expect_same_outputs(before, g);
  }
}

TEST(FoldBatchnorm, IntoDepthwiseConv) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 6, 5, 5});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {6, 1, 3, 3}, 3)}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 6));
  b.output(add_bn(b, c, 6, 20));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_batchnorm, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv}));
  expect_same_outputs(before, g);
}

TEST(FoldBatchnorm, SharedWeightsAreNotChangedForTheOtherReader) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 4, 4});
  const TensorId w = b.random_constant("w", {2, 2, 1, 1}, 4);
  const TensorId c1 = b.node(O::Conv, {x, w}, conv_attrs({1, 1}));
  const TensorId c2 = b.node(O::Conv, {x, w}, conv_attrs({1, 1}));
  b.output(add_bn(b, c1, 2, 30));
  b.output(c2);
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_batchnorm, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::Conv}));
  EXPECT_NE(g.nodes[0].inputs[1], g.nodes[1].inputs[1]);
  expect_same_outputs(before, g);
}

struct GemmCase {
  bool trans_b;
  int c_kind;  // 0 none, 1 scalar [], 2 vector [N], 3 row [1,N], 4 matrix [M,N], 5 column [M,1], 6 [1]
  const char* label;
};

class FoldBatchnormGemm : public ::testing::TestWithParam<GemmCase> {};

TEST_P(FoldBatchnormGemm, OutputsMatch) {
  const GemmCase p = GetParam();
  const int64_t M = 3, Kd = 4, N = 5;
  GraphBuilder b;
  const TensorId a = b.input("a", {M, Kd});
  std::vector<TensorId> in{a, b.random_constant("B", p.trans_b ? Shape{N, Kd} : Shape{Kd, N}, 5)};
  const std::vector<Shape> c_shapes = {{}, {}, {N}, {1, N}, {M, N}, {M, 1}, {1}};
  if (p.c_kind > 0) in.push_back(b.random_constant("C", c_shapes[static_cast<size_t>(p.c_kind)], 6));
  const TensorId y = b.node(O::Gemm, in, gemm_attrs(0.75f, 1.5f, false, p.trans_b), "gemm");
  b.output(add_bn(b, y, N, 40));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_batchnorm, g), 1);
  ASSERT_EQ(ops_of(g), (std::vector<O>{O::Gemm}));
  const Node& gemm = g.nodes[0];
  EXPECT_EQ(gemm.inputs.size(), 3u);
  EXPECT_EQ(attrs_as<fb::GemmAttrsT>(gemm).trans_b, p.trans_b);
  // A C varying per row must stay a matrix; otherwise one value per column.
  const Shape& c_shape = g.shape(gemm.inputs[2]);
  if (p.c_kind == 4 || p.c_kind == 5) EXPECT_EQ(c_shape, (Shape{M, N}));
  else EXPECT_EQ(c_shape, (Shape{N}));
  expect_same_outputs(before, g);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FoldBatchnormGemm,
    ::testing::Values(GemmCase{false, 0, "no_c"}, GemmCase{true, 0, "no_c_transB"}, GemmCase{false, 1, "scalar_c"},
                      GemmCase{true, 1, "scalar_c_transB"}, GemmCase{false, 2, "vector_c"},
                      GemmCase{true, 2, "vector_c_transB"}, GemmCase{false, 3, "row_c"}, GemmCase{true, 3, "row_c_transB"},
                      GemmCase{false, 4, "matrix_c"}, GemmCase{true, 4, "matrix_c_transB"},
                      GemmCase{false, 5, "column_c"}, GemmCase{true, 5, "column_c_transB"},
                      GemmCase{false, 6, "one_element_c"}),
    [](const ::testing::TestParamInfo<GemmCase>& info) { return std::string(info.param.label); });

TEST(FoldBatchnorm, GemmWithASingleRow) {
  // M == 1: a [1,N] C is both "per row" and "per column".
  GraphBuilder b;
  const TensorId a = b.input("a", {1, 6});
  const TensorId y = b.node(O::Gemm, {a, b.random_constant("B", {6, 4}, 7), b.random_constant("C", {1, 4}, 8)},
                            gemm_attrs(1.0f, 0.5f));
  b.output(add_bn(b, y, 4, 50));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_batchnorm, g), 1);
  expect_same_outputs(before, g);
}

TEST(FoldBatchnorm, GemmWhosePerRowBiasWouldBeHugeIsNotFolded) {
  // C is [M, 1] and the batch norm has N channels: the folded C would be
  // [M, N], 1 GiB here, from 64 KiB constants and M from the input's shape.
  constexpr int64_t M = int64_t{1} << 14, N = int64_t{1} << 14;
  GraphBuilder b;
  const TensorId a = b.input("a", {M, 1});
  const TensorId y = b.node(O::Gemm, {a, b.random_constant("B", {1, N}, 7), b.random_constant("C", {M, 1}, 8)},
                            gemm_attrs(), "gemm");
  b.output(add_bn(b, y, N, 50));
  Graph g = b.build();
  EXPECT_EQ(apply(fold_batchnorm, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Gemm, O::BatchNormalization}));
}

TEST(FoldBatchnorm, DoesNotFireWhenTheConvOutputHasTwoReaders) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 5, 5});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1)}, conv_attrs({3, 3}));
  b.output(add_bn(b, c, 4, 60));
  b.output(b.node(O::Relu, {c}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_batchnorm, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::BatchNormalization, O::Relu}));
  expect_same_outputs(before, g);
}

TEST(FoldBatchnorm, DoesNotFireInOtherUnsafeCases) {
  // The Conv output is a graph output.
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 3, 5, 5});
    const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1)}, conv_attrs({3, 3}));
    b.output(c);
    b.output(add_bn(b, c, 4, 60));
    Graph g = b.build();
    EXPECT_EQ(apply(fold_batchnorm, g), 0);
  }
  // The Conv already applies an activation: BN(relu(conv)) is not affine in conv.
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 3, 5, 5});
    const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1)},
                              conv_attrs({3, 3}, {}, {}, {}, 1, act(K::Relu)));
    b.output(add_bn(b, c, 4, 60));
    const Graph before = b.build();
    Graph g = before;
    EXPECT_EQ(apply(fold_batchnorm, g), 0);
    expect_same_outputs(before, g);
  }
  // Weights that are a graph input, not a constant.
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 3, 5, 5});
    const TensorId w = b.input("w", {4, 3, 3, 3});
    b.output(add_bn(b, b.node(O::Conv, {x, w}, conv_attrs({3, 3})), 4, 60));
    Graph g = b.build();
    EXPECT_EQ(apply(fold_batchnorm, g), 0);
  }
  // BN statistics that are not constants.
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 3, 5, 5});
    const TensorId scale = b.input("scale", {4});
    const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1)}, conv_attrs({3, 3}));
    b.output(b.node(O::BatchNormalization,
                    {c, scale, b.random_constant("bb", {4}, 2), b.random_constant("bm", {4}, 3),
                     b.random_constant("bv", {4}, 4, 0.5f, 1.0f)},
                    batchnorm_attrs(1e-5f)));
    Graph g = b.build();
    EXPECT_EQ(apply(fold_batchnorm, g), 0);
  }
  // A producer that is neither Conv nor Gemm.
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3});
    b.output(add_bn(b, b.node(O::MatMul, {x, b.random_constant("m", {3, 3}, 5)}), 3, 70));
    const Graph before = b.build();
    Graph g = before;
    EXPECT_EQ(apply(fold_batchnorm, g), 0);
    EXPECT_EQ(ops_of(g), (std::vector<O>{O::MatMul, O::BatchNormalization}));
  }
}

// ---- fuse_activations ----------------------------------------------------------

struct ActCase {
  O op;
  fb::AttributesUnion attrs;
  fb::FusedActivation expected;
};

std::vector<ActCase> activation_cases() {
  return {
      {O::Relu, {}, act(K::Relu)},
      {O::Clip, make_attrs(clip_attrs(-0.5f, 0.8f)), act(K::Clip, -0.5f, 0.8f)},
      {O::LeakyRelu, make_attrs(leaky_relu_attrs(0.15f)), act(K::LeakyRelu, 0.15f)},
      {O::Sigmoid, {}, act(K::Sigmoid)},
      {O::HardSigmoid, make_attrs(hard_sigmoid_attrs(0.3f, 0.45f)), act(K::HardSigmoid, 0.3f, 0.45f)},
      {O::HardSwish, {}, act(K::HardSwish)},
      {O::Tanh, {}, act(K::Tanh)},
  };
}

const fb::FusedActivation& epilogue(const Node& n) {
  switch (n.op) {
    case O::Conv: return attrs_as<fb::ConvAttrsT>(n).activation;
    case O::Gemm: return attrs_as<fb::GemmAttrsT>(n).activation;
    default: return attrs_as<fb::BinaryAttrsT>(n).activation;
  }
}

// x -> producer -> activation -> output
Graph producer_then_activation(O producer, const ActCase& a) {
  GraphBuilder b;
  TensorId p = -1;
  switch (producer) {
    case O::Conv: {
      const TensorId x = b.input("x", {1, 3, 6, 5});
      p = b.node(O::Conv, {x, b.random_constant("w", {4, 3, 3, 3}, 1), b.random_constant("b", {4}, 2)},
                 conv_attrs({3, 3}, {}, {1, 1, 1, 1}), "producer");
      break;
    }
    case O::Gemm: {
      const TensorId x = b.input("x", {3, 7});
      p = b.node(O::Gemm, {x, b.random_constant("w", {5, 7}, 3), b.random_constant("c", {5}, 4)},
                 gemm_attrs(1.25f, 0.5f, false, true), "producer");
      break;
    }
    default: {
      const TensorId x = b.input("x", {2, 3, 4});
      const TensorId y = b.input("y", {3, 1});
      p = b.node(producer, {x, y}, binary_attrs(), "producer");
      break;
    }
  }
  b.output(b.node(a.op, {p}, a.attrs, "act"));
  return b.build();
}

class FuseActivations : public ::testing::TestWithParam<std::tuple<O, size_t>> {};

TEST_P(FuseActivations, MovesTheActivationIntoTheProducer) {
  const auto [producer, index] = GetParam();
  const ActCase a = activation_cases()[index];
  const Graph before = producer_then_activation(producer, a);
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, producer);
  EXPECT_EQ(g.nodes[0].name, "producer");
  EXPECT_TRUE(epilogue(g.nodes[0]) == a.expected)
      << "got kind " << fb::EnumNameActivationKind(epilogue(g.nodes[0]).kind()) << " alpha "
      << epilogue(g.nodes[0]).alpha() << " beta " << epilogue(g.nodes[0]).beta();
  EXPECT_EQ(g.tensor(g.nodes[0].outputs[0]).name, "act_out");
  expect_same_outputs(before, g);
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, FuseActivations,
    ::testing::Combine(::testing::Values(O::Conv, O::Gemm, O::Add, O::Sub, O::Mul, O::Div),
                       ::testing::Range<size_t>(0, 7)),
    [](const ::testing::TestParamInfo<std::tuple<O, size_t>>& info) {
      return std::string(op_name(std::get<0>(info.param))) + "_" +
             std::string(op_name(activation_cases()[std::get<1>(info.param)].op));
    });

TEST(FuseActivationsNot, IntermediateReadTwice) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 4});
  const TensorId g1 = b.node(O::Gemm, {x, b.random_constant("w", {4, 3}, 1)}, gemm_attrs());
  b.output(b.node(O::Relu, {g1}));
  b.output(b.node(O::Sigmoid, {g1}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 0);
  EXPECT_EQ(g.nodes.size(), 3u);
  expect_same_outputs(before, g);
}

TEST(FuseActivationsNot, ProducerOutputIsAGraphOutput) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 4});
  const TensorId s = b.node(O::Add, {x, b.random_constant("k", {4}, 1)}, binary_attrs());
  b.output(s);
  b.output(b.node(O::Tanh, {s}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Add, O::Tanh}));
  EXPECT_EQ(epilogue(g.nodes[0]).kind(), K::None);
  expect_same_outputs(before, g);
}

TEST(FuseActivationsNot, ConvAlreadyHasAnActivation) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 4, 4});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {3, 2, 1, 1}, 1)},
                            conv_attrs({1, 1}, {}, {}, {}, 1, act(K::LeakyRelu, 0.3f)));
  b.output(b.node(O::Clip, {c}, clip_attrs(-0.1f, 0.2f)));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::Clip}));
  EXPECT_TRUE(epilogue(g.nodes[0]) == act(K::LeakyRelu, 0.3f));
  expect_same_outputs(before, g);
}

TEST(FuseActivationsNot, ProducerWithoutAnEpilogueOrAGraphInput) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3});
  b.output(b.node(O::Relu, {b.node(O::MatMul, {x, b.random_constant("m", {3, 2}, 1)})}));
  b.output(b.node(O::Sigmoid, {x}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 0);
  EXPECT_EQ(g.nodes.size(), 3u);
  expect_same_outputs(before, g);
}

TEST(FuseActivationsChain, OnlyTheFirstOfTwoActivationsFuses) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 4, 4});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {3, 2, 3, 3}, 1)}, conv_attrs({3, 3}));
  b.output(b.node(O::Sigmoid, {b.node(O::Relu, {c})}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::Sigmoid}));
  EXPECT_EQ(epilogue(g.nodes[0]).kind(), K::Relu);
  // Running the pass again changes nothing more.
  EXPECT_EQ(apply(fuse_activations, g), 0);
  expect_same_outputs(before, g);
}

// ---- remove_dead_nodes -------------------------------------------------------------

TEST(RemoveDeadNodes, RemovesADeadChainInOneCall) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3});
  const TensorId live = b.node(O::Relu, {x});
  const TensorId d1 = b.node(O::Sigmoid, {x});
  const TensorId d2 = b.node(O::Add, {d1, live}, binary_attrs());
  b.node(O::Tanh, {d2});
  b.output(b.node(O::Mul, {live, live}, binary_attrs()));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(remove_dead_nodes, g), 3);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Relu, O::Mul}));
  EXPECT_EQ(apply(remove_dead_nodes, g), 0);
  expect_same_outputs(before, g);
}

TEST(RemoveDeadNodes, KeepsAMultiOutputNodeWithOneLiveOutput) {
  GraphBuilder b;
  const TensorId x = b.input("x", {4, 2});
  const auto parts = b.node_n(O::Split, {x}, make_attrs(split_attrs(0, {1, 3})), 2);
  b.node(O::Relu, {parts[0]});  // dead
  b.output(b.node(O::Tanh, {parts[1]}));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(remove_dead_nodes, g), 1);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Split, O::Tanh}));
  expect_same_outputs(before, g);
}

// ---- fold_qdq ------------------------------------------------------------------------

QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}, -1}; }

TensorId as_quantized(Graph& g, TensorId t, DataType dt, QuantParams q, const std::string& name = {}) {
  g.tensor(t).dtype = dt;
  g.tensor(t).quant = std::move(q);
  if (!name.empty()) g.tensor(t).name = name;
  return t;
}

TensorId quantize(GraphBuilder& b, TensorId x, DataType dt, QuantParams q, const std::string& name) {
  return as_quantized(b.graph(), b.node(O::QuantizeLinear, {x}, {}, name + "_quantize"), dt, std::move(q), name);
}

TensorId dequantize(GraphBuilder& b, TensorId x, const std::string& name) {
  const TensorId y = b.node(O::DequantizeLinear, {x}, {}, name + "_dequantize");
  b.graph().tensor(y).name = name;
  return y;
}

constexpr float kSx = 0.02f;                                      // x_q: uint8, zero point 128
const std::vector<float> kSw = {0.004f, 0.006f, 0.003f, 0.005f};  // w_q: int8 per output channel

// An int8 weight [4, 3, 3, 3] quantized per output channel.
TensorId int8_weight(Graph& g) {
  std::vector<int8_t> w(4 * 3 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 251) - 125);
  return g.add_constant("w_q", {4, 3, 3, 3}, DataType::Int8, ConstantData::copy_of(w.data(), w.size()),
                        QuantParams{kSw, {0, 0, 0, 0}, 0});
}

// An int32 bias [4] whose per-channel scale is `scale_factor` · sx · sw[n].
TensorId int32_bias(Graph& g, const std::vector<int32_t>& values, float scale_factor) {
  QuantParams q{{}, {0, 0, 0, 0}, 0};
  for (float sw : kSw) q.scale.push_back(scale_factor * kSx * sw);
  return g.add_constant("bias_q", {4}, DataType::Int32, ConstantData::copy_of(values.data(), values.size() * 4),
                        std::move(q));
}

// The QDQ form of a quantized Conv with a fused Clip(0, 6), as ONNX exports it:
// x -> Q -> DQ -> Conv(DQ(w_q), DQ(bias_q)) -> Clip -> Q (y_q) -> DQ -> y.
Graph qdq_conv_graph(float bias_scale_factor = 1.0f) {
  GraphBuilder b;
  Graph& g = b.graph();
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId xd = dequantize(b, quantize(b, x, DataType::UInt8, per_tensor(kSx, 128), "x_q"), "x_dq");
  const TensorId wd = dequantize(b, int8_weight(g), "w_dq");
  const TensorId bd = dequantize(b, int32_bias(g, {700, -1500, 30000, -46}, bias_scale_factor), "bias_dq");
  const TensorId c = b.node(O::Conv, {xd, wd, bd}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}), "conv");
  const TensorId r = b.node(O::Clip, {c}, clip_attrs(0.0f, 6.0f), "relu6");
  b.output(dequantize(b, quantize(b, r, DataType::UInt8, per_tensor(0.03f, 0), "y_q"), "y"));
  return b.build();
}

TensorId tensor_named(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].name == name) return static_cast<TensorId>(i);
  throw std::runtime_error("no tensor " + name);
}

const Node& only_node(const Graph& g, O op) {
  const Node* found = nullptr;
  for (const Node& n : g.nodes)
    if (n.op == op) {
      EXPECT_EQ(found, nullptr) << "two " << op_name(op) << " nodes";
      found = &n;
    }
  if (!found) throw std::runtime_error("no " + std::string(op_name(op)) + " node");
  return *found;
}

// The largest |a − b| over the values of two float outputs.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double d = 0;
  for (int64_t i = 0; i < a.size() && i < b.size(); ++i)
    d = std::max(d, std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return d;
}

TEST(FoldQdq, ConvWithFusedClipBecomesAQuantizedConv) {
  const Graph before = qdq_conv_graph();
  EXPECT_EQ(ops_of(before),
            (std::vector<O>{O::QuantizeLinear, O::DequantizeLinear, O::DequantizeLinear, O::DequantizeLinear, O::Conv,
                            O::Clip, O::QuantizeLinear, O::DequantizeLinear}));
  Graph g = before;
  EXPECT_EQ(apply(fuse_activations, g), 1);
  EXPECT_EQ(apply(fold_qdq, g), 1);
  EXPECT_EQ(apply(remove_dead_nodes, g), 1);  // the DequantizeLinear of x_q nobody reads now
  g.remove_unused_tensors();
  validate_graph(g);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::QuantizeLinear, O::Conv, O::DequantizeLinear}));
  const Node& conv = g.nodes[1];
  EXPECT_EQ(conv.name, "conv");
  ASSERT_EQ(conv.inputs.size(), 3u);
  // Reads the uint8 tensor, the int8 weight and the int32 bias (already in sx·sw units: not rescaled) ...
  EXPECT_EQ(conv.inputs[0], tensor_named(g, "x_q"));
  EXPECT_EQ(g.tensor(conv.inputs[0]).dtype, DataType::UInt8);
  EXPECT_EQ(conv.inputs[1], tensor_named(g, "w_q"));
  EXPECT_EQ(g.tensor(conv.inputs[1]).dtype, DataType::Int8);
  EXPECT_EQ(conv.inputs[2], tensor_named(g, "bias_q"));
  EXPECT_EQ(g.tensor(conv.inputs[2]).dtype, DataType::Int32);
  // ... writes the QuantizeLinear's output, and keeps the Clip in its epilogue.
  ASSERT_EQ(conv.outputs.size(), 1u);
  EXPECT_EQ(conv.outputs[0], tensor_named(g, "y_q"));
  EXPECT_EQ(*g.tensor(conv.outputs[0]).quant, per_tensor(0.03f, 0));
  EXPECT_TRUE(epilogue(conv) == act(K::Clip, 0, 6));
  EXPECT_TRUE(is_quantized_node(g, conv));
  EXPECT_EQ(g.nodes[2].inputs[0], conv.outputs[0]);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "y");
  // No float tensor is left between the Q and the DQ.
  for (const TensorInfo& t : g.tensors) {
    if (t.dtype == DataType::Float32) {
      EXPECT_TRUE(t.name == "x" || t.name == "y") << t.name;
    }
  }

  // Integer arithmetic instead of the float simulation: within one output step (0.03).
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto inputs = random_inputs(before, seed, -2.0f, 2.0f);
    const Tensor want = run_graph(before, inputs)[0];
    const Tensor got = run_graph(g, inputs)[0];
    const double d = max_abs_diff(got, want);
    EXPECT_LE(d, 0.03 * 1.001) << "seed " << seed;
    // The quantized outputs are real: not all zero, not all saturated.
    float lo = got.data()[0], hi = got.data()[0];
    for (float v : got.values()) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_LT(lo, hi);
  }
}

TEST(FoldQdq, BiasInOtherUnitsIsRescaled) {
  // Bias scale 2.5 · sx · sw[n]: the integer accumulator counts sx · sw[n], so
  // the bias becomes round(2.5 · b).
  const Graph before = qdq_conv_graph(2.5f);
  Graph g = before;
  apply(fuse_activations, g);
  EXPECT_EQ(apply(fold_qdq, g), 1);
  apply(remove_dead_nodes, g);
  const Node& conv = only_node(g, O::Conv);
  const TensorInfo& bias = g.tensor(conv.inputs[2]);
  EXPECT_EQ(bias.name, "bias_q_rescaled");
  EXPECT_EQ(bias.dtype, DataType::Int32);
  ASSERT_TRUE(bias.is_constant());
  const auto* v = reinterpret_cast<const int32_t*>(bias.constant->bytes());
  // 2.5 · {700, -1500, 30000, -46}.
  EXPECT_EQ(std::vector<int32_t>(v, v + 4), (std::vector<int32_t>{1750, -3750, 75000, -115}));
  ASSERT_TRUE(bias.quant.has_value());
  EXPECT_EQ(bias.quant->axis, 0);
  ASSERT_EQ(bias.quant->scale.size(), 4u);
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_FLOAT_EQ(bias.quant->scale[n], kSx * kSw[n]) << n;
    EXPECT_EQ(bias.quant->zero_point[n], 0);
  }
  for (uint32_t seed : {1u, 2u}) {
    const auto inputs = random_inputs(before, seed, -2.0f, 2.0f);
    EXPECT_LE(max_abs_diff(run_graph(g, inputs)[0], run_graph(before, inputs)[0]), 0.03 * 1.001);
  }
}

TEST(FoldQdq, ConvOutputWithTwoReadersStaysFloat) {
  GraphBuilder b;
  Graph& g0 = b.graph();
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId xd = dequantize(b, quantize(b, x, DataType::UInt8, per_tensor(kSx, 128), "x_q"), "x_dq");
  const TensorId c = b.node(O::Conv, {xd, dequantize(b, int8_weight(g0), "w_dq")}, conv_attrs({3, 3}), "conv");
  b.output(dequantize(b, quantize(b, c, DataType::UInt8, per_tensor(0.03f, 128), "y_q"), "y"));
  b.output(b.node(O::Sigmoid, {c}, {}, "other_reader"));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_qdq, g), 0);
  const Node& conv = only_node(g, O::Conv);
  EXPECT_EQ(g.tensor(conv.inputs[0]).dtype, DataType::Float32);
  EXPECT_EQ(conv.inputs[0], tensor_named(g, "x_dq"));
  EXPECT_EQ(g.tensor(conv.outputs[0]).dtype, DataType::Float32);
  const std::vector<O> ops = ops_of(g);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), O::QuantizeLinear), 2);  // both kept
  EXPECT_EQ(only_node(g, O::Sigmoid).inputs[0], conv.outputs[0]);
  // The weight's DequantizeLinear of a constant became a float constant.
  EXPECT_EQ(g.tensor(conv.inputs[1]).dtype, DataType::Float32);
  EXPECT_TRUE(g.tensor(conv.inputs[1]).is_constant());
  EXPECT_TRUE(bitwise_equal(run_graph(g, random_inputs(g, 4)), run_graph(before, random_inputs(before, 4))));
}

TEST(FoldQdq, OpWhoseInputIsNotFromADequantizeLinearStaysFloat) {
  // Conv reads the float input x directly; only its weight is a DQ of a constant.
  GraphBuilder b;
  Graph& g0 = b.graph();
  const TensorId x = b.input("x", {1, 3, 6, 6});
  const TensorId c = b.node(O::Conv, {x, dequantize(b, int8_weight(g0), "w_dq")}, conv_attrs({3, 3}), "conv");
  b.output(dequantize(b, quantize(b, c, DataType::UInt8, per_tensor(0.03f, 128), "y_q"), "y"));
  const Graph before = b.build();
  Graph g = before;
  EXPECT_EQ(apply(fold_qdq, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::QuantizeLinear, O::DequantizeLinear}));
  const Node& conv = g.nodes[0];
  EXPECT_EQ(conv.inputs[0], tensor_named(g, "x"));
  EXPECT_EQ(g.tensor(conv.outputs[0]).dtype, DataType::Float32);
  // The leftover DequantizeLinear of the weight is now a float constant holding
  // sw[n] · (q − 0), channel by channel.
  const TensorInfo& w = g.tensor(conv.inputs[1]);
  EXPECT_EQ(w.name, "w_dq");
  EXPECT_EQ(w.dtype, DataType::Float32);
  EXPECT_FALSE(w.quant.has_value());
  ASSERT_TRUE(w.is_constant());
  ASSERT_EQ(w.constant->size_bytes(), 4u * 3 * 3 * 3 * 4);
  for (size_t i : {size_t{0}, size_t{1}, size_t{27}, size_t{60}, size_t{107}}) {
    const float q = static_cast<float>(static_cast<int>(i * 53 % 251) - 125);
    EXPECT_EQ(w.constant->floats()[i], q * kSw[i / 27]) << i;
  }
  const auto inputs = random_inputs(before, 5);
  EXPECT_TRUE(bitwise_equal(run_graph(g, inputs), run_graph(before, inputs)));
}

TEST(FoldQdq, DequantizedConstantFeedingAGraphOutputStays) {
  GraphBuilder b;
  Graph& g0 = b.graph();
  const TensorId x = b.input("x", {4, 3, 3, 3});
  const TensorId wd = dequantize(b, int8_weight(g0), "w_dq");
  b.output(wd);
  b.output(b.node(O::Add, {x, wd}, binary_attrs(), "add"));
  Graph g = b.build();
  EXPECT_EQ(apply(fold_qdq, g), 0);
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::DequantizeLinear, O::Add}));
}

// ---- dequantize_to_float ------------------------------------------------------------

// A folded quantized graph: a quantized Conv (Relu), a quantized Add with a
// quantized graph input, requantizing MaxPools, a quantized graph output.
//   x (float) -> Q -> x_q -> Conv -> c_q (graph output, uint8)
//   z_q (uint8 graph input) + c_q -> a_q -> MaxPool -> m_q -> DQ -> y (float)
//   z_q -> MaxPool -> p_q -> DQ -> y2 (float)
Graph quantized_graph() {
  GraphBuilder b;
  Graph& g = b.graph();
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId z = as_quantized(g, b.input("z_q", {1, 4, 8, 8}), DataType::UInt8, per_tensor(0.025f, 120));
  const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(kSx, 128), "x_q");
  const TensorId c = b.node(O::Conv, {xq, int8_weight(g), int32_bias(g, {700, -1500, 3000, -45}, 1.0f)},
                            conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(K::Relu)), "conv");
  as_quantized(g, c, DataType::UInt8, per_tensor(0.03f, 0), "c_q");
  const TensorId a =
      as_quantized(g, b.node(O::Add, {c, z}, binary_attrs(), "add"), DataType::UInt8, per_tensor(0.05f, 60), "a_q");
  const TensorId m = as_quantized(g, b.node(O::MaxPool, {a}, pool_attrs({2, 2}, {2, 2}), "maxpool"), DataType::UInt8,
                                  per_tensor(0.04f, 100), "m_q");
  b.output(dequantize(b, m, "y"));
  b.output(c);
  const TensorId p = as_quantized(g, b.node(O::MaxPool, {z}, pool_attrs({2, 2}, {2, 2}), "maxpool2"), DataType::UInt8,
                                  per_tensor(0.02f, 128), "p_q");
  b.output(dequantize(b, p, "y2"));
  return b.build();
}

TEST(DequantizeToFloat, QuantizedGraphBecomesFloat32) {
  const Graph before = quantized_graph();
  EXPECT_TRUE(has_quantized_tensors(before));
  Graph g = before;
  EXPECT_GT(apply(dequantize_to_float, g), 0);
  // Only the graph's quantized input and output keep their dtype.
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const TensorInfo& t = g.tensors[i];
    const bool border = t.name == "z_q" || t.name == "c_q";
    if (border) {
      EXPECT_EQ(t.dtype, DataType::UInt8) << t.name;
      EXPECT_TRUE(t.quant.has_value()) << t.name;
      EXPECT_TRUE(g.is_graph_input(static_cast<TensorId>(i)) || g.is_graph_output(static_cast<TensorId>(i)));
    } else {
      EXPECT_EQ(t.dtype, DataType::Float32) << t.name;
      EXPECT_FALSE(t.quant.has_value()) << t.name;
    }
  }
  EXPECT_EQ(g.tensor(g.inputs[1]).name, "z_q");
  EXPECT_EQ(g.tensor(g.outputs[1]).name, "c_q");
  for (const Node& n : g.nodes) {
    EXPECT_FALSE(is_quantized_node(g, n)) << n.name;
    // The only Q/DQ left convert the quantized graph input and output.
    if (n.op == O::DequantizeLinear) {
      EXPECT_EQ(g.tensor(n.inputs[0]).name, "z_q");
    }
    if (n.op == O::QuantizeLinear) {
      EXPECT_EQ(g.tensor(n.outputs[0]).name, "c_q");
    }
  }
  const std::vector<O> ops = ops_of(g);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), O::DequantizeLinear), 1);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), O::QuantizeLinear), 1);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), O::Identity), 0);
  // The input QuantizeLinear is a Clip to what uint8 (0.02, 128) holds: [-2.56, 2.54].
  const Node& q = g.nodes[static_cast<size_t>(g.producers()[static_cast<size_t>(tensor_named(g, "x_q"))])];
  EXPECT_EQ(q.op, O::Clip);
  EXPECT_EQ(q.inputs[0], g.inputs[0]);
  EXPECT_FLOAT_EQ(attrs_as<fb::ClipAttrsT>(q).min, -2.56f);
  EXPECT_FLOAT_EQ(attrs_as<fb::ClipAttrsT>(q).max, 2.54f);
  // The Conv's Relu becomes a Clip to [0, 255 · 0.03]; weights and bias are float constants.
  const Node& conv = only_node(g, O::Conv);
  EXPECT_EQ(epilogue(conv).kind(), K::Clip);
  EXPECT_FLOAT_EQ(epilogue(conv).alpha(), 0.0f);
  EXPECT_FLOAT_EQ(epilogue(conv).beta(), 255 * 0.03f);
  EXPECT_EQ(g.tensor(conv.inputs[1]).dtype, DataType::Float32);
  EXPECT_FLOAT_EQ(g.tensor(conv.inputs[1]).constant->floats()[1], kSw[0] * static_cast<float>(53 - 125));
  EXPECT_FLOAT_EQ(g.tensor(conv.inputs[2]).constant->floats()[2], 3000 * kSx * kSw[2]);
  // The requantizing MaxPool gets a Clip to [-100 · 0.04, 155 · 0.04] (which
  // now writes y: the DequantizeLinear after it went).
  const Node& clip = g.nodes[static_cast<size_t>(g.producers()[static_cast<size_t>(g.outputs[0])])];
  EXPECT_EQ(clip.op, O::Clip);
  EXPECT_EQ(g.nodes[static_cast<size_t>(g.producers()[static_cast<size_t>(clip.inputs[0])])].op, O::MaxPool);
  EXPECT_FLOAT_EQ(attrs_as<fb::ClipAttrsT>(clip).min, -4.0f);
  EXPECT_FLOAT_EQ(attrs_as<fb::ClipAttrsT>(clip).max, 6.2f);

  // The float graph computes what the integer one does, up to the rounding of
  // each activation to its step. Inputs on x's grid make the first Q exact.
  for (uint32_t seed : {1u, 2u}) {
    std::vector<Tensor> inputs;
    inputs.push_back(random_tensor({1, 3, 8, 8}, seed, -2.5f, 2.5f));
    for (float& v : inputs[0].values()) v = std::round(v / kSx) * kSx;
    Tensor zq({1, 4, 8, 8}, ElementType::UInt8);
    for (size_t i = 0; i < zq.u8().size(); ++i) zq.u8()[i] = static_cast<uint8_t>((i * 97 + seed) % 256);
    inputs.push_back(zq);
    const auto want = run_graph(before, inputs);
    const auto got = run_graph(g, inputs);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_LE(max_abs_diff(got[0], want[0]), 2 * 0.04) << "seed " << seed;
    // z_q's MaxPool into a narrower range ([-2.56, 2.54] of [-3, 3.375]) saturates alike; the
    // float graph only skips the rounding to the 0.02 step.
    EXPECT_LE(max_abs_diff(got[2], want[2]), 0.5 * 0.02 + 1e-6) << "seed " << seed;
    // The uint8 output: within one step of the integer graph's.
    ASSERT_EQ(got[1].type(), ElementType::UInt8);
    ASSERT_EQ(want[1].type(), ElementType::UInt8);
    Tensor a = got[1], w = want[1];
    int worst = 0;
    for (size_t i = 0; i < a.u8().size(); ++i) worst = std::max(worst, std::abs(a.u8()[i] - w.u8()[i]));
    EXPECT_LE(worst, 1);
  }
}

TEST(DequantizeToFloat, FloatGraphIsLeftAlone) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3});
  b.output(b.node(O::Relu, {x}));
  Graph f = b.build();
  EXPECT_FALSE(has_quantized_tensors(f));
  const Graph copy = f;
  EXPECT_EQ(apply(dequantize_to_float, f), 0);
  EXPECT_TRUE(graphs_equal(copy, f));
}

// ---- The pipeline ------------------------------------------------------------------

TEST(Pipeline, ConvertTimePassesInOrder) {
  std::vector<std::string> names;
  for (const Pass& p : convert_time_passes()) {
    names.emplace_back(p.name);
    EXPECT_FALSE(p.summary.empty());
    EXPECT_EQ(find_pass(p.name), &p);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"eliminate_identity", "fold_constants", "fold_batchnorm",
                                             "fuse_activations", "fold_qdq", "remove_dead_nodes"}));
  EXPECT_EQ(find_pass("no_such_pass"), nullptr);
}

TEST(Pipeline, OptimisesATypicalGraphAndRecordsEachPass) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  TensorId t = b.node(O::Identity, {x});
  // Weights stored transposed: a constant-only Transpose the fold step evaluates.
  const TensorId w_stored = b.random_constant("w_stored", {3, 5, 3, 3}, 1);
  const TensorId w = b.node(O::Transpose, {w_stored}, transpose_attrs({1, 0, 2, 3}));
  t = b.node(O::Conv, {t, w}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}), "conv");
  t = add_bn(b, t, 5, 10);
  t = b.node(O::Clip, {t}, clip_attrs(0, 6), "clip");
  const TensorId dead = b.node(O::Sigmoid, {t});
  b.node(O::Tanh, {dead});
  t = b.node(O::Dropout, {t});
  t = b.node(O::GlobalAveragePool, {t});
  t = b.node(O::Flatten, {t}, flatten_attrs(1));
  t = b.node(O::Gemm, {t, b.random_constant("fc", {5, 4}, 2)}, gemm_attrs(), "fc");
  t = add_bn(b, t, 4, 20, "bn2");
  t = b.node(O::Relu, {t});
  b.output(b.node(O::Identity, {t}, {}, "logits"));
  const Graph before = b.build();

  Graph g = before;
  run_passes(g, convert_time_passes());
  EXPECT_EQ(g.passes_applied, (std::vector<std::string>{"eliminate_identity: 3 rewrites", "fold_constants: 1 rewrites",
                                                        "fold_batchnorm: 2 rewrites", "fuse_activations: 2 rewrites",
                                                        "fold_qdq: 0 rewrites", "remove_dead_nodes: 2 rewrites"}));
  EXPECT_EQ(ops_of(g), (std::vector<O>{O::Conv, O::GlobalAveragePool, O::Flatten, O::Gemm}));
  EXPECT_TRUE(epilogue(g.nodes[0]) == act(K::Clip, 0, 6));
  EXPECT_TRUE(epilogue(g.nodes[3]) == act(K::Relu));
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "logits_out");
  // No tensor is left unreferenced.
  std::set<TensorId> used(g.inputs.begin(), g.inputs.end());
  used.insert(g.outputs.begin(), g.outputs.end());
  for (const Node& n : g.nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  EXPECT_EQ(used.size(), g.tensors.size());
  expect_same_outputs(before, g);

  // A second run finds nothing left to do.
  Graph again = g;
  again.passes_applied.clear();
  run_passes(again, convert_time_passes());
  for (const auto& entry : again.passes_applied) EXPECT_THAT(entry, HasSubstr(": 0 rewrites"));
}

TEST(Pipeline, APassThatBreaksTheGraphIsReported) {
  const Pass broken[] = {{"drop_first_node", "removes a node others depend on", [](Graph& g) {
                            g.nodes.erase(g.nodes.begin());
                            return 1;
                          }}};
  GraphBuilder b;
  const TensorId x = b.input("x", {3});
  b.output(b.node(O::Tanh, {b.node(O::Relu, {x})}));
  Graph g = b.build();
  try {
    run_passes(g, broken);
    ADD_FAILURE() << "an invalid graph was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Internal);
    EXPECT_THAT(e.what(), HasSubstr("pass drop_first_node left an invalid graph"));
  }
}

}  // namespace
}  // namespace kiln::test
