// Static shape inference, op by op, including the errors it must report.
// Expected shapes are worked out by hand from the ONNX definitions.
#include <limits>

#include "engine/core/shape_inference.hpp"
#include "engine/core/spatial.hpp"
#include "gmock/gmock.h"
#include "tests/common/graph_builder.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using O = OpType;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// A graph holding one node `op` over inputs of the given shapes.
struct OneNode {
  Graph g;
  Node node;
};

OneNode one_node(O op, const std::vector<Shape>& inputs, fb::AttributesUnion attrs, size_t n_outputs) {
  OneNode o;
  o.node.name = "n";
  o.node.op = op;
  for (size_t i = 0; i < inputs.size(); ++i) o.node.inputs.push_back(o.g.add_tensor(numbered("in", static_cast<int64_t>(i)), inputs[i]));
  for (size_t i = 0; i < n_outputs; ++i) o.node.outputs.push_back(o.g.add_tensor(numbered("out", static_cast<int64_t>(i))));
  o.node.attrs = std::move(attrs);
  return o;
}

std::vector<Shape> infer_all(O op, const std::vector<Shape>& inputs, fb::AttributesUnion attrs = {},
                             size_t n_outputs = 1) {
  const OneNode o = one_node(op, inputs, std::move(attrs), n_outputs);
  return infer_output_shapes(o.g, o.node);
}

template <class T>
Shape infer(O op, const std::vector<Shape>& inputs, T attrs) {
  const auto shapes = infer_all(op, inputs, make_attrs(std::move(attrs)));
  EXPECT_EQ(shapes.size(), 1u);
  return shapes.empty() ? Shape{} : shapes[0];
}

Shape infer(O op, const std::vector<Shape>& inputs) {
  const auto shapes = infer_all(op, inputs);
  EXPECT_EQ(shapes.size(), 1u);
  return shapes.empty() ? Shape{} : shapes[0];
}

// The message of the kiln::Error inference throws; fails the test otherwise.
std::string infer_error(O op, const std::vector<Shape>& inputs, fb::AttributesUnion attrs = {}, size_t n_outputs = 1) {
  try {
    const auto shapes = infer_all(op, inputs, std::move(attrs), n_outputs);
    ADD_FAILURE() << "inference succeeded with " << (shapes.empty() ? "nothing" : shape_to_string(shapes[0]));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel);
    return e.what();
  }
  return "";
}

template <class T>
std::string infer_error(O op, const std::vector<Shape>& inputs, T attrs, size_t n_outputs = 1) {
  return infer_error(op, inputs, make_attrs(std::move(attrs)), n_outputs);
}

// ---- Conv --------------------------------------------------------------------

TEST(ShapeInference, Conv2dStridePadsDilation) {
  // H: (7 + 1 + 1 - 3) / 2 + 1 = 4; W: (7 + 0 + 2 - 5) / 1 + 1 = 5 (dilated kernel 5)
  EXPECT_EQ(infer(O::Conv, {{2, 3, 7, 7}, {8, 3, 3, 3}}, conv_attrs({3, 3}, {2, 1}, {1, 0, 1, 2}, {1, 2})),
            (Shape{2, 8, 4, 5}));
  // No strides/pads/dilations given: all defaults.
  EXPECT_EQ(infer(O::Conv, {{1, 3, 5, 6}, {4, 3, 2, 3}, {4}}, conv_attrs({2, 3})), (Shape{1, 4, 4, 4}));
}

TEST(ShapeInference, Conv1dAnd3dAndGroups) {
  EXPECT_EQ(infer(O::Conv, {{1, 4, 10}, {6, 2, 3}}, conv_attrs({3}, {3}, {0, 2}, {}, 2)), (Shape{1, 6, 4}));
  // Depthwise: group == channels, weight [C, 1, k, k].
  EXPECT_EQ(infer(O::Conv, {{1, 5, 6, 6}, {5, 1, 3, 3}}, conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 5)),
            (Shape{1, 5, 6, 6}));
  // 3-D: D (4+0+0-2)/2+1 = 2, H (5+1+1-3)/1+1 = 5, W (6-3*2... dilation 2 on a kernel of 2 = 3): (6-3)/1+1 = 4
  EXPECT_EQ(infer(O::Conv, {{1, 2, 4, 5, 6}, {3, 2, 2, 3, 2}}, conv_attrs({2, 3, 2}, {2, 1, 1}, {0, 1, 0, 0, 1, 0},
                                                                         {1, 1, 2})),
            (Shape{1, 3, 2, 5, 4}));
}

TEST(ShapeInference, ConvErrors) {
  EXPECT_THAT(infer_error(O::Conv, {{1, 4, 8, 8}, {6, 3, 3, 3}}, conv_attrs({3, 3})),
              AllOf(HasSubstr("'n'"), HasSubstr("input has 4 channels"), HasSubstr("expects 3")));
  EXPECT_THAT(infer_error(O::Conv, {{1, 4, 8, 8}, {6, 2, 3, 3}}, conv_attrs({3, 3}, {}, {}, {}, 4)),
              HasSubstr("not divisible by group 4"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 4, 8, 8}, {6, 2, 3, 3}}, conv_attrs({3, 3}, {}, {}, {}, 0)),
              HasSubstr("group must be positive"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3, 3}, {5}}, conv_attrs({3, 3})),
              HasSubstr("bias shape [5]"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3}}, conv_attrs({3})),
              HasSubstr("does not match input rank"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3, 3}}, conv_attrs({3, 5})),
              HasSubstr("kernel_shape does not match"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 4, 4}, {6, 3, 5, 5}}, conv_attrs({5, 5})),
              HasSubstr("larger than the padded input"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3, 3}}, conv_attrs({3, 3}, {0, 1})),
              HasSubstr("strides must be positive"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3, 3}}, conv_attrs({3, 3}, {}, {1, 1, 1})),
              HasSubstr("pads must have 2 entries per spatial axis"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 3, 8, 8}, {6, 3, 3, 3}}, conv_attrs({3, 3}, {}, {-1, 0, 0, 0})),
              HasSubstr("negative pads"));
  EXPECT_THAT(infer_error(O::Conv, {{3, 8}, {6, 3, 3}}, conv_attrs({3})), HasSubstr("rank 3-5"));
}

// ---- Pools -------------------------------------------------------------------

TEST(ShapeInference, PoolFloorAndCeil) {
  // in 6, k 3, s 2: floor (6-3)/2+1 = 2, ceil ceil(3/2)+1 = 3 (last window starts at 4 < 6)
  EXPECT_EQ(infer(O::MaxPool, {{1, 2, 6, 6}}, pool_attrs({3, 3}, {2, 2})), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(infer(O::MaxPool, {{1, 2, 6, 6}}, pool_attrs({3, 3}, {2, 2}, {}, {}, true)), (Shape{1, 2, 3, 3}));
  // With pads 1/1: floor (6+2-3)/2+1 = 3, ceil 4 (last window starts at 6-1=5, inside the input).
  EXPECT_EQ(infer(O::AveragePool, {{1, 2, 6, 6}}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true)),
            (Shape{1, 2, 4, 4}));
  // Divisible span: ceil changes nothing. (7-3)/2+1 = 3
  EXPECT_EQ(infer(O::MaxPool, {{1, 1, 7}}, pool_attrs({3}, {2}, {}, {}, true)), (Shape{1, 1, 3}));
}

TEST(ShapeInference, CeilModeWindowMayNotStartInTheEndPadding) {
  // in 4, pad_end 1, k 2, s 2: ceil gives windows at 0, 2, 4; the one at 4 would
  // start in the end padding (4 >= 4 + 0), so it is dropped: 2 outputs.
  EXPECT_EQ(infer(O::MaxPool, {{1, 1, 4}}, pool_attrs({2}, {2}, {0, 1}, {}, true)), (Shape{1, 1, 2}));
  // Same with pad_begin 1: the windows start at -1, 1, 3; 3 < 4 + 1, so all 3 stay.
  EXPECT_EQ(infer(O::MaxPool, {{1, 1, 4}}, pool_attrs({2}, {2}, {1, 1}, {}, true)), (Shape{1, 1, 3}));
  // in 5, k 1, s 2, pad_end 1: span 5, ceil 4 windows at 0,2,4,6; 6 >= 5 so 3.
  EXPECT_EQ(infer(O::AveragePool, {{1, 1, 5}}, pool_attrs({1}, {2}, {0, 1}, {}, true)), (Shape{1, 1, 3}));
  // The rule through make_window directly, on the middle axis of a 3-D pool.
  const Window3d w = make_window("p", {1, 1, 3, 4, 3}, {1, 2, 1}, {1, 2, 1}, {}, {0, 0, 0, 0, 1, 0}, true);
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.out[1], 2);
}

TEST(ShapeInference, PoolDilation3dAndErrors) {
  // dilation 2, k 3: effective 5; (9-5)/1+1 = 5
  EXPECT_EQ(infer(O::MaxPool, {{1, 1, 9, 9}}, pool_attrs({3, 3}, {}, {}, {2, 1})), (Shape{1, 1, 5, 7}));
  EXPECT_EQ(infer(O::AveragePool, {{2, 3, 4, 6, 8}}, pool_attrs({2, 2, 2}, {2, 2, 2})), (Shape{2, 3, 2, 3, 4}));
  EXPECT_THAT(infer_error(O::MaxPool, {{1, 1, 9, 9}}, pool_attrs({3})), HasSubstr("kernel_shape has 1 entries"));
  EXPECT_THAT(infer_error(O::MaxPool, {{1, 1, 9, 9}}, pool_attrs({3, 3}, {}, {}, {0, 1})),
              HasSubstr("dilations must be positive"));
  EXPECT_THAT(infer_error(O::MaxPool, {{1, 1, 9, 9}}, pool_attrs({3, 3}, {1})), HasSubstr("strides length"));
  EXPECT_THAT(infer_error(O::MaxPool, {{1, 1, 9, 9}}, pool_attrs({0, 3})), HasSubstr("kernel sizes must be positive"));
  EXPECT_THAT(infer_error(O::MaxPool, {{1, 1, 2, 2}}, pool_attrs({3, 3})), HasSubstr("larger than the padded input"));
}

TEST(ShapeInference, GlobalPools) {
  EXPECT_EQ(infer(O::GlobalAveragePool, {{2, 3, 5, 7}}), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(infer(O::GlobalMaxPool, {{2, 3, 5}}), (Shape{2, 3, 1}));
  EXPECT_EQ(infer(O::GlobalMaxPool, {{1, 2, 3, 4, 5}}), (Shape{1, 2, 1, 1, 1}));
  EXPECT_THAT(infer_error(O::GlobalAveragePool, {{2, 3}}), HasSubstr("expected rank 3-8"));
}

// ---- Elementwise ---------------------------------------------------------------

TEST(ShapeInference, BatchNormAndUnary) {
  EXPECT_EQ(infer(O::BatchNormalization, {{2, 3, 4, 4}, {3}, {3}, {3}, {3}}, batchnorm_attrs(1e-5f)),
            (Shape{2, 3, 4, 4}));
  EXPECT_THAT(infer_error(O::BatchNormalization, {{2, 3, 4, 4}, {3}, {3}, {4}, {3}}, batchnorm_attrs(1e-5f)),
              AllOf(HasSubstr("parameter 3"), HasSubstr("[4]"), HasSubstr("expected [3]")));
  for (O op : {O::Relu, O::Sigmoid, O::HardSwish, O::Tanh, O::Identity, O::Dropout})
    EXPECT_EQ(infer(op, {{3, 1, 5}}), (Shape{3, 1, 5}));
  EXPECT_EQ(infer(O::Clip, {{7}}, clip_attrs(0, 6)), (Shape{7}));
  EXPECT_EQ(infer(O::LeakyRelu, {{2, 2}}, leaky_relu_attrs(0.1f)), (Shape{2, 2}));
  EXPECT_EQ(infer(O::HardSigmoid, {{}}, hard_sigmoid_attrs(0.2f, 0.5f)), (Shape{}));
}

TEST(ShapeInference, BinaryBroadcasting) {
  EXPECT_EQ(infer(O::Add, {{2, 3, 4}, {4}}, binary_attrs()), (Shape{2, 3, 4}));
  EXPECT_EQ(infer(O::Sub, {{2, 1, 4}, {3, 1}}, binary_attrs()), (Shape{2, 3, 4}));
  EXPECT_EQ(infer(O::Mul, {{}, {2, 3}}, binary_attrs()), (Shape{2, 3}));
  EXPECT_EQ(infer(O::Div, {{1, 5, 1, 1}, {2, 1, 3, 1}}, binary_attrs()), (Shape{2, 5, 3, 1}));
  EXPECT_EQ(infer(O::Add, {{5, 1}, {1, 0}}, binary_attrs()), (Shape{5, 0}));
  EXPECT_THAT(infer_error(O::Add, {{2, 3}, {4}}, binary_attrs()),
              AllOf(HasSubstr("'n'"), HasSubstr("[2,3]"), HasSubstr("[4]"), HasSubstr("do not broadcast")));
  EXPECT_THAT(infer_error(O::Mul, {{2, 3, 4}, {3, 3, 1}}, binary_attrs()), HasSubstr("do not broadcast"));
  EXPECT_EQ(broadcast_shapes({8, 1, 6, 1}, {7, 1, 5}, "b"), (Shape{8, 7, 6, 5}));
}

TEST(ShapeInference, NodeArityAndAttributeTable) {
  EXPECT_THAT(infer_error(O::Add, {{2}}, binary_attrs()), HasSubstr("has 1 inputs, expected 2"));
  EXPECT_THAT(infer_error(O::Conv, {{1, 1, 3, 3}}, conv_attrs({1, 1})), HasSubstr("has 1 inputs, expected 2-3"));
  EXPECT_THAT(infer_error(O::Relu, {{2}}, {}, 2), HasSubstr("has 2 outputs"));
  EXPECT_THAT(infer_error(O::Relu, {{2}}, clip_attrs(0, 1)), HasSubstr("carries ClipAttrs attributes, expected NONE"));
  EXPECT_THAT(infer_error(O::Clip, {{2}}), HasSubstr("carries NONE attributes, expected ClipAttrs"));
}

// ---- Gemm / MatMul -------------------------------------------------------------

TEST(ShapeInference, Gemm) {
  EXPECT_EQ(infer(O::Gemm, {{3, 5}, {5, 4}}, gemm_attrs()), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{5, 3}, {5, 4}}, gemm_attrs(1, 1, true)), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{3, 5}, {4, 5}}, gemm_attrs(1, 1, false, true)), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{5, 3}, {4, 5}, {4}}, gemm_attrs(1, 1, true, true)), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{3, 5}, {5, 4}, {}}, gemm_attrs()), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{3, 5}, {5, 4}, {3, 1}}, gemm_attrs()), (Shape{3, 4}));
  EXPECT_EQ(infer(O::Gemm, {{3, 5}, {5, 4}, {3, 4}}, gemm_attrs()), (Shape{3, 4}));
  EXPECT_THAT(infer_error(O::Gemm, {{3, 5}, {4, 5}}, gemm_attrs()),
              AllOf(HasSubstr("inner dimensions differ"), HasSubstr("[3,5]"), HasSubstr("[4,5]")));
  EXPECT_THAT(infer_error(O::Gemm, {{3, 5}, {5, 4}, {3}}, gemm_attrs()), HasSubstr("do not broadcast"));
  EXPECT_THAT(infer_error(O::Gemm, {{3, 5}, {5, 4}, {2, 3, 4}}, gemm_attrs()), HasSubstr("C shape [2,3,4]"));
  EXPECT_THAT(infer_error(O::Gemm, {{1, 3, 5}, {5, 4}}, gemm_attrs()), HasSubstr("A has shape [1,3,5]"));
}

TEST(ShapeInference, MatMul) {
  EXPECT_EQ(infer(O::MatMul, {{4}, {4}}), (Shape{}));
  EXPECT_EQ(infer(O::MatMul, {{4}, {4, 3}}), (Shape{3}));
  EXPECT_EQ(infer(O::MatMul, {{2, 4}, {4}}), (Shape{2}));
  EXPECT_EQ(infer(O::MatMul, {{2, 4}, {4, 3}}), (Shape{2, 3}));
  EXPECT_EQ(infer(O::MatMul, {{2, 1, 3, 4}, {5, 4, 6}}), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(infer(O::MatMul, {{7, 2, 4}, {4}}), (Shape{7, 2}));
  EXPECT_EQ(infer(O::MatMul, {{4}, {7, 4, 3}}), (Shape{7, 3}));
  EXPECT_THAT(infer_error(O::MatMul, {{2, 4}, {5, 3}}), AllOf(HasSubstr("inner dimensions differ"), HasSubstr("[2,4]")));
  EXPECT_THAT(infer_error(O::MatMul, {{2, 2, 4}, {3, 4, 1}}), HasSubstr("do not broadcast"));
  EXPECT_THAT(infer_error(O::MatMul, {{}, {3}}), HasSubstr("rank >= 1"));
}

// ---- Shape ops -----------------------------------------------------------------

TEST(ShapeInference, FlattenAndReshape) {
  EXPECT_EQ(infer(O::Flatten, {{2, 3, 4, 5}}, flatten_attrs(1)), (Shape{2, 60}));
  EXPECT_EQ(infer(O::Flatten, {{2, 3, 4, 5}}, flatten_attrs(0)), (Shape{1, 120}));
  EXPECT_EQ(infer(O::Flatten, {{2, 3, 4, 5}}, flatten_attrs(4)), (Shape{120, 1}));
  EXPECT_EQ(infer(O::Flatten, {{2, 3, 4, 5}}, flatten_attrs(2)), (Shape{6, 20}));
  EXPECT_THAT(infer_error(O::Flatten, {{2, 3}}, flatten_attrs(3)), HasSubstr("axis out of range"));
  EXPECT_THAT(infer_error(O::Flatten, {{2, 3}}, flatten_attrs(-1)), HasSubstr("axis out of range"));
  EXPECT_EQ(infer(O::Reshape, {{2, 3, 4}}, reshape_attrs({4, 6})), (Shape{4, 6}));
  EXPECT_EQ(infer(O::Reshape, {{2, 3, 4}}, reshape_attrs({24})), (Shape{24}));
  EXPECT_THAT(infer_error(O::Reshape, {{2, 3, 4}}, reshape_attrs({5, 5})),
              AllOf(HasSubstr("cannot reshape [2,3,4] to [5,5]")));
  EXPECT_THAT(infer_error(O::Reshape, {{2, 3, 4}}, reshape_attrs({-1, 4})), HasSubstr("not fully resolved"));
}

TEST(ShapeInference, Transpose) {
  EXPECT_EQ(infer(O::Transpose, {{2, 3, 4}}, transpose_attrs({2, 0, 1})), (Shape{4, 2, 3}));
  EXPECT_EQ(infer(O::Transpose, {{2, 3, 4, 5}}, transpose_attrs({0, 3, 1, 2})), (Shape{2, 5, 3, 4}));
  EXPECT_THAT(infer_error(O::Transpose, {{2, 3, 4}}, transpose_attrs({0, 1})), HasSubstr("perm length"));
  EXPECT_THAT(infer_error(O::Transpose, {{2, 3, 4}}, transpose_attrs({0, 1, 1})), HasSubstr("not a permutation"));
  EXPECT_THAT(infer_error(O::Transpose, {{2, 3, 4}}, transpose_attrs({0, 1, 3})),
              HasSubstr("perm entry 3 is out of range"));
  EXPECT_THAT(infer_error(O::Transpose, {{2, 3, 4}}, transpose_attrs({0, -1, 1})), HasSubstr("out of range"));
}

TEST(ShapeInference, ConcatAndSplit) {
  EXPECT_EQ(infer(O::Concat, {{2, 3, 4}, {2, 5, 4}, {2, 1, 4}}, concat_attrs(1)), (Shape{2, 9, 4}));
  EXPECT_EQ(infer(O::Concat, {{2, 3}}, concat_attrs(0)), (Shape{2, 3}));
  EXPECT_THAT(infer_error(O::Concat, {{2, 3, 4}, {2, 5, 5}}, concat_attrs(1)),
              AllOf(HasSubstr("[2,3,4]"), HasSubstr("[2,5,5]"), HasSubstr("differ outside axis 1")));
  EXPECT_THAT(infer_error(O::Concat, {{2, 3}, {2, 3, 1}}, concat_attrs(1)), HasSubstr("differ in rank"));
  EXPECT_THAT(infer_error(O::Concat, {{2, 3}, {2, 3}}, concat_attrs(2)), HasSubstr("axis 2 is out of range"));

  const auto parts = infer_all(O::Split, {{2, 10, 3}}, make_attrs(split_attrs(1, {3, 0, 7})), 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], (Shape{2, 3, 3}));
  EXPECT_EQ(parts[1], (Shape{2, 0, 3}));
  EXPECT_EQ(parts[2], (Shape{2, 7, 3}));
  EXPECT_THAT(infer_error(O::Split, {{2, 10}}, split_attrs(1, {3, 6}), 2),
              AllOf(HasSubstr("add up to 9"), HasSubstr("axis 1 has 10")));
  EXPECT_THAT(infer_error(O::Split, {{2, 10}}, split_attrs(1, {3, 7}), 3), HasSubstr("2 split sizes for 3 outputs"));
  EXPECT_THAT(infer_error(O::Split, {{2, 10}}, split_attrs(1, {12, -2}), 2), HasSubstr("negative split size"));
  EXPECT_THAT(infer_error(O::Split, {{2, 10}}, split_attrs(2, {1, 1}), 2), HasSubstr("axis 2 is out of range"));
}

TEST(ShapeInference, SqueezeUnsqueeze) {
  EXPECT_EQ(infer(O::Squeeze, {{1, 3, 1, 5}}, axes_attrs({0, 2})), (Shape{3, 5}));
  EXPECT_EQ(infer(O::Squeeze, {{1, 3, 1, 5}}, axes_attrs({2})), (Shape{1, 3, 5}));
  EXPECT_THAT(infer_error(O::Squeeze, {{1, 3, 1, 5}}, axes_attrs({1})), HasSubstr("cannot squeeze axis 1 of size 3"));
  EXPECT_THAT(infer_error(O::Squeeze, {{1, 3}}, axes_attrs({2})), HasSubstr("out of range"));
  EXPECT_EQ(infer(O::Unsqueeze, {{3, 5}}, axes_attrs({0, 3})), (Shape{1, 3, 5, 1}));
  EXPECT_EQ(infer(O::Unsqueeze, {{3, 5}}, axes_attrs({1})), (Shape{3, 1, 5}));
  EXPECT_EQ(infer(O::Unsqueeze, {{}}, axes_attrs({0})), (Shape{1}));
  EXPECT_THAT(infer_error(O::Unsqueeze, {{3, 5}}, axes_attrs({1, 1})), HasSubstr("repeated axis"));
  EXPECT_THAT(infer_error(O::Unsqueeze, {{3, 5}}, axes_attrs({3})), HasSubstr("axis 3 is out of range for rank 3"));
}

TEST(ShapeInference, Pad) {
  EXPECT_EQ(infer(O::Pad, {{2, 3}}, pad_attrs({1, 0, 2, 4})), (Shape{5, 7}));
  EXPECT_EQ(infer(O::Pad, {{2, 5}}, pad_attrs({0, -1, 0, -2})), (Shape{2, 2}));
  EXPECT_EQ(infer(O::Pad, {{2, 5}}, pad_attrs({-2, 0, 0, 0})), (Shape{0, 5}));
  EXPECT_THAT(infer_error(O::Pad, {{2, 5}}, pad_attrs({0, -3, 0, -3})), HasSubstr("crop axis 1 below zero"));
  EXPECT_THAT(infer_error(O::Pad, {{2, 5}}, pad_attrs({1, 1})), HasSubstr("2 entries per axis"));
}

TEST(ShapeInference, ReduceMeanAndSoftmax) {
  EXPECT_EQ(infer(O::ReduceMean, {{2, 3, 4}}, reduce_attrs({1}, true)), (Shape{2, 1, 4}));
  EXPECT_EQ(infer(O::ReduceMean, {{2, 3, 4}}, reduce_attrs({0, 2}, false)), (Shape{3}));
  EXPECT_EQ(infer(O::ReduceMean, {{2, 3, 4}}, reduce_attrs({}, true)), (Shape{1, 1, 1}));
  EXPECT_EQ(infer(O::ReduceMean, {{2, 3, 4}}, reduce_attrs({}, false)), (Shape{}));
  EXPECT_THAT(infer_error(O::ReduceMean, {{2, 3, 4}}, reduce_attrs({3}, true)), HasSubstr("axis 3 is out of range"));
  EXPECT_EQ(infer(O::Softmax, {{2, 3, 4}}, softmax_attrs(2)), (Shape{2, 3, 4}));
  EXPECT_EQ(infer(O::Softmax, {{2, 3, 4}}, softmax_attrs(0, true)), (Shape{2, 3, 4}));
  EXPECT_THAT(infer_error(O::Softmax, {{2, 3, 4}}, softmax_attrs(3)), HasSubstr("axis 3 is out of range"));
}

// ---- Slice ---------------------------------------------------------------------

Shape slice_shape(const Shape& in, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int32_t> axes,
                  std::vector<int64_t> steps) {
  return infer(O::Slice, {in}, slice_attrs(std::move(starts), std::move(ends), std::move(axes), std::move(steps)));
}

TEST(ShapeInference, SliceBasicAndNegativeIndices) {
  EXPECT_EQ(slice_shape({10, 6}, {2}, {7}, {0}, {1}), (Shape{5, 6}));
  EXPECT_EQ(slice_shape({10, 6}, {1, 0}, {9, 6}, {0, 1}, {3, 2}), (Shape{3, 3}));  // rows 1,4,7; cols 0,2,4
  EXPECT_EQ(slice_shape({10}, {-3}, {10}, {0}, {1}), (Shape{3}));
  EXPECT_EQ(slice_shape({10}, {0}, {-1}, {0}, {1}), (Shape{9}));
  EXPECT_EQ(slice_shape({10}, {-4}, {-2}, {0}, {1}), (Shape{2}));
  EXPECT_EQ(slice_shape({10}, {5}, {5}, {0}, {1}), (Shape{0}));
  EXPECT_EQ(slice_shape({10}, {7}, {3}, {0}, {1}), (Shape{0}));
}

TEST(ShapeInference, SliceClampsOutOfRangeStartsAndEnds) {
  EXPECT_EQ(slice_shape({10}, {0}, {kMax}, {0}, {1}), (Shape{10}));
  EXPECT_EQ(slice_shape({10}, {-100}, {100}, {0}, {1}), (Shape{10}));
  EXPECT_EQ(slice_shape({10}, {12}, {20}, {0}, {1}), (Shape{0}));
  EXPECT_EQ(slice_shape({10}, {kMin}, {3}, {0}, {1}), (Shape{3}));
  EXPECT_EQ(slice_shape({10}, {2}, {kMin}, {0}, {1}), (Shape{0}));
}

TEST(ShapeInference, SliceNegativeSteps) {
  // Full reverse, as exported by PyTorch/ONNX: start -1, end INT64_MIN.
  EXPECT_EQ(slice_shape({10}, {-1}, {kMin}, {0}, {-1}), (Shape{10}));
  EXPECT_EQ(slice_shape({10}, {kMax}, {kMin}, {0}, {-1}), (Shape{10}));
  // 8, 6, 4, 2 (end 1 excluded)
  EXPECT_EQ(slice_shape({10}, {8}, {1}, {0}, {-2}), (Shape{4}));
  // 9, 6, 3, 0
  EXPECT_EQ(slice_shape({10}, {20}, {-20}, {0}, {-3}), (Shape{4}));
  // start <= end with a negative step: empty
  EXPECT_EQ(slice_shape({10}, {2}, {5}, {0}, {-1}), (Shape{0}));
  // end -1 means index 9 here (not "before 0"): 9 > 9 is false, so empty
  EXPECT_EQ(slice_shape({10}, {9}, {-1}, {0}, {-1}), (Shape{0}));
  // ONNX clamps a negative-step start into [0, dim-1]: start -100 -> 0, end -100 -> -1: one element (index 0).
  EXPECT_EQ(slice_shape({5}, {-100}, {-100}, {0}, {-1}), (Shape{1}));
}

TEST(ShapeInference, SliceStepsLargerThanTheAxis) {
  EXPECT_EQ(slice_shape({10}, {3}, {10}, {0}, {100}), (Shape{1}));
  EXPECT_EQ(slice_shape({10}, {0}, {kMax}, {0}, {kMax}), (Shape{1}));
  EXPECT_EQ(slice_shape({10}, {-1}, {kMin}, {0}, {kMin}), (Shape{1}));
}

TEST(ShapeInference, SliceOnZeroSizedAxis) {
  EXPECT_EQ(slice_shape({0, 3}, {0}, {kMax}, {0}, {1}), (Shape{0, 3}));
  EXPECT_EQ(slice_shape({0, 3}, {-1}, {kMin}, {0}, {-1}), (Shape{0, 3}));
}

TEST(ShapeInference, ResolveSliceGivesStartAndCount) {
  const SliceRange r = resolve_slice(10, -1, kMin, -2);  // 9, 7, 5, 3, 1
  EXPECT_EQ(r.start, 9);
  EXPECT_EQ(r.step, -2);
  EXPECT_EQ(r.count, 5);
  const SliceRange f = resolve_slice(7, -5, 100, 2);  // 2, 4, 6
  EXPECT_EQ(f.start, 2);
  EXPECT_EQ(f.count, 3);
}

TEST(ShapeInference, SliceErrors) {
  EXPECT_THAT(infer_error(O::Slice, {{10}}, slice_attrs({0}, {5}, {0}, {0})), HasSubstr("step must not be zero"));
  EXPECT_THAT(infer_error(O::Slice, {{10, 4}}, slice_attrs({0, 1}, {5, 2}, {1, 1}, {1, 1})),
              HasSubstr("axis 1 repeated"));
  EXPECT_THAT(infer_error(O::Slice, {{10}}, slice_attrs({0}, {5}, {1}, {1})), HasSubstr("axis 1 out of range"));
  EXPECT_THAT(infer_error(O::Slice, {{10}}, slice_attrs({0}, {5, 6}, {0}, {1})), HasSubstr("equal lengths"));
}

TEST(ShapeInference, HugeAttributeValuesDoNotOverflow) {
  // (2^62 + 1) * 4 wraps around to 4 in 64 bits: it must not pass for [4].
  EXPECT_THAT(infer_error(O::Reshape, {{4}}, reshape_attrs({(int64_t{1} << 62) + 1, 4})), HasSubstr("cannot reshape"));
  // 2 + INT64_MIN + INT64_MAX == 1, but such pads are nonsense.
  EXPECT_THAT(infer_error(O::Pad, {{2}}, pad_attrs({kMin, kMax})), HasSubstr("implausibly large"));
  // INT64_MAX + INT64_MAX + 2 wraps around to 0.
  EXPECT_THAT(infer_error(O::Split, {{1, 0}}, split_attrs(1, {kMax, kMax, 2}), 3), HasSubstr("overflow"));
}

TEST(ShapeInference, OutputsBeyondTheTensorLimitAreErrors) {
  // Each input is plausible; what the node makes of them is not.
  constexpr int64_t k2to35 = int64_t{1} << 35;
  EXPECT_THAT(infer_error(O::Concat, {{k2to35}, {k2to35}, {k2to35}}, concat_attrs(0)),
              AllOf(HasSubstr("node 'n' (Concat)"), HasSubstr("implausibly large")));
  EXPECT_THAT(infer_error(O::Pad, {{1}}, pad_attrs({0, int64_t{1} << 40})),
              AllOf(HasSubstr("node 'n' (Pad)"), HasSubstr("implausibly large")));
  EXPECT_THAT(infer_error(O::Add, {{k2to35, 1}, {1, k2to35}}, binary_attrs()), HasSubstr("implausibly large"));
  // At the limit is still fine.
  EXPECT_EQ(infer(O::Concat, {{k2to35}, {k2to35}}, concat_attrs(0)), (Shape{int64_t{1} << 36}));
}

// ---- Whole graphs --------------------------------------------------------------

TEST(ShapeInference, InferShapesFillsAGraphAndCheckShapesAgrees) {
  Graph g = all_ops_graph();
  const Graph reference = g;
  for (auto& t : g.tensors)
    if (!t.is_constant() && !g.is_graph_input(static_cast<TensorId>(&t - g.tensors.data()))) t.shape = {};
  infer_shapes(g);
  for (size_t i = 0; i < g.tensors.size(); ++i) EXPECT_EQ(g.tensors[i].shape, reference.tensors[i].shape) << i;
  EXPECT_NO_THROW(check_shapes(g));
  g.tensor(g.nodes[5].outputs[0]).shape.back() += 1;
  try {
    check_shapes(g);
    ADD_FAILURE() << "check_shapes accepted a wrong shape";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(g.tensor(g.nodes[5].outputs[0]).name), HasSubstr("stored with shape")));
  }
}

}  // namespace
}  // namespace kiln::test
