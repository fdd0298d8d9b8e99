// Reference unary activations, binary ops (broadcasting, fused activations),
// BatchNormalization and the copy ops (Identity, Dropout, Reshape, Flatten,
// Squeeze, Unsqueeze).
#include <cmath>
#include <limits>
#include <random>

#include "engine/core/op_info.hpp"
#include "kernels/reference/kernels.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;
using naive::make;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor vec(const std::vector<float>& v) { return make({static_cast<int64_t>(v.size())}, v); }

// ---- Unary activations ---------------------------------------------------------

TEST(UnaryKernel, Relu) {
  const Tensor y = run_node(O::Relu, {vec({-2, -0.5f, 0, 0.5f, 3, kNaN, -kInf, kInf})});
  EXPECT_TRUE(values_are(y, {8}, {0, 0, 0, 0.5f, 3, kNaN, 0, kInf}));
}

TEST(UnaryKernel, ClipBothBoundsAndNaN) {
  const Tensor x = vec({-3, -1, 0, 1.5f, 2, 5, kNaN, -kInf, kInf});
  EXPECT_TRUE(values_are(run_node(O::Clip, {x}, clip_attrs(-1, 2)), {9}, {-1, -1, 0, 1.5f, 2, 2, kNaN, -1, 2}));
}

TEST(UnaryKernel, ClipOneSidedAndDegenerate) {
  const Tensor x = vec({-3, -1, 0, 1.5f, 7, kInf});
  // Only a lower bound (max stays +inf), only an upper bound (min stays -inf).
  EXPECT_TRUE(values_are(run_node(O::Clip, {x}, clip_attrs(0, kInf)), {6}, {0, 0, 0, 1.5f, 7, kInf}));
  EXPECT_TRUE(values_are(run_node(O::Clip, {x}, clip_attrs(-kInf, 6)), {6}, {-3, -1, 0, 1.5f, 6, 6}));
  // The default attribute table: no clipping at all.
  EXPECT_TRUE(values_are(run_node(O::Clip, {x}, fb::ClipAttrsT{}), {6}, {-3, -1, 0, 1.5f, 7, kInf}));
  // min == max pins everything.
  EXPECT_TRUE(values_are(run_node(O::Clip, {x}, clip_attrs(0.5f, 0.5f)), {6}, {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}));
}

TEST(UnaryKernel, LeakyRelu) {
  EXPECT_TRUE(values_are(run_node(O::LeakyRelu, {vec({-10, -1, 0, 2, kNaN, -kInf})}, leaky_relu_attrs(0.1f)), {6},
                         {-1, -0.1f, 0, 2, kNaN, -kInf}));
  // Default alpha 0.01.
  EXPECT_TRUE(values_are(run_node(O::LeakyRelu, {vec({-100, 3})}, fb::LeakyReluAttrsT{}), {2}, {-1, 3}));
}

TEST(UnaryKernel, Sigmoid) {
  EXPECT_TRUE(values_are(run_node(O::Sigmoid, {vec({0, 2, -2, 30, -30, kNaN, kInf, -kInf})}), {8},
                         {0.5f, 0.880797077977882f, 0.119202922022118f, 1.0f, 9.3576e-14f, kNaN, 1.0f, 0.0f}, 1e-6f));
}

TEST(UnaryKernel, HardSigmoid) {
  EXPECT_TRUE(values_are(run_node(O::HardSigmoid, {vec({-5, -1, 0, 1, 2.5f, 3, kNaN})}, hard_sigmoid_attrs(0.2f, 0.5f)),
                         {7}, {0, 0.3f, 0.5f, 0.7f, 1.0f, 1, kNaN}, 1e-6f));
  // Other slope and offset: 0.5x + 0.25
  EXPECT_TRUE(values_are(run_node(O::HardSigmoid, {vec({-1, 0, 1, 2})}, hard_sigmoid_attrs(0.5f, 0.25f)), {4},
                         {0, 0.25f, 0.75f, 1}, 1e-6f));
}

TEST(UnaryKernel, HardSwish) {
  // x * relu6(x + 3) / 6
  EXPECT_TRUE(values_are(run_node(O::HardSwish, {vec({-4, -3, -1, 0, 1, 3, 4, kNaN})}), {8},
                         {0, 0, -1.0f / 3, 0, 2.0f / 3, 3, 4, kNaN}, 1e-6f));
}

TEST(UnaryKernel, Tanh) {
  EXPECT_TRUE(values_are(run_node(O::Tanh, {vec({0, 1, -1, 10, kNaN, -kInf})}), {6},
                         {0, 0.761594155955765f, -0.761594155955765f, 0.999999995877693f, kNaN, -1}, 1e-6f));
}

TEST(UnaryKernel, RandomAgainstNaive) {
  const Tensor x = random_tensor({3, 7, 5}, 77, -8.0f, 8.0f);
  auto each = [&](float (*f)(float)) {
    Tensor e(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) e.data()[i] = f(x.data()[i]);
    return e;
  };
  EXPECT_TRUE(close_to(run_node(O::Relu, {x}), each(naive::relu), 0.0));
  EXPECT_TRUE(close_to(run_node(O::Sigmoid, {x}), each(naive::sigmoid), 1e-6));
  EXPECT_TRUE(close_to(run_node(O::HardSwish, {x}), each(naive::hard_swish), 1e-6));
  EXPECT_TRUE(close_to(run_node(O::Tanh, {x}), each(naive::tanh_), 1e-6));
  Tensor leaky(x.shape()), clip(x.shape()), hs(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) {
    leaky.data()[i] = naive::leaky_relu(x.data()[i], 0.3f);
    clip.data()[i] = naive::clip(x.data()[i], -1.5f, 2.5f);
    hs.data()[i] = naive::hard_sigmoid(x.data()[i], 0.1f, 0.6f);
  }
  EXPECT_TRUE(close_to(run_node(O::LeakyRelu, {x}, leaky_relu_attrs(0.3f)), leaky, 0.0));
  EXPECT_TRUE(close_to(run_node(O::Clip, {x}, clip_attrs(-1.5f, 2.5f)), clip, 0.0));
  EXPECT_TRUE(close_to(run_node(O::HardSigmoid, {x}, hard_sigmoid_attrs(0.1f, 0.6f)), hs, 1e-6));
}

// ---- Binary ops ----------------------------------------------------------------

TEST(BinaryKernel, AddRowBroadcast) {
  const Tensor y = run_node(O::Add, {make({2, 3}, {1, 2, 3, 4, 5, 6}), vec({10, 20, 30})}, binary_attrs());
  EXPECT_TRUE(values_are(y, {2, 3}, {11, 22, 33, 14, 25, 36}));
}

TEST(BinaryKernel, SubOuterBroadcast) {
  // [2,1] - [1,3] -> [2,3]: a_i - b_j
  const Tensor y = run_node(O::Sub, {make({2, 1}, {10, 20}), make({1, 3}, {1, 2, 3})}, binary_attrs());
  EXPECT_TRUE(values_are(y, {2, 3}, {9, 8, 7, 19, 18, 17}));
  // Order matters: [1,3] - [2,1]
  const Tensor z = run_node(O::Sub, {make({1, 3}, {1, 2, 3}), make({2, 1}, {10, 20})}, binary_attrs());
  EXPECT_TRUE(values_are(z, {2, 3}, {-9, -8, -7, -19, -18, -17}));
}

TEST(BinaryKernel, MulScalarAndDivChannelBroadcast) {
  EXPECT_TRUE(values_are(run_node(O::Mul, {make({}, {3}), make({2, 2}, {1, -2, 0.5f, 4})}, binary_attrs()), {2, 2},
                         {3, -6, 1.5f, 12}));
  // [1,2,2,2] / [2,1,1]: per-channel divisor
  const Tensor y = run_node(O::Div, {make({1, 2, 2, 2}, {2, 4, 6, 8, 3, 6, 9, 12}), make({2, 1, 1}, {2, 3})},
                            binary_attrs());
  EXPECT_TRUE(values_are(y, {1, 2, 2, 2}, {1, 2, 3, 4, 1, 2, 3, 4}));
}

TEST(BinaryKernel, DivisionByZeroFollowsIeee) {
  const Tensor y = run_node(O::Div, {vec({1, -1, 0}), vec({0, 0, 0})}, binary_attrs());
  EXPECT_TRUE(values_are(y, {3}, {kInf, -kInf, kNaN}));
}

TEST(BinaryKernel, BothOperandsBroadcastInTheMiddle) {
  // [2,1,3] + [1,2,1] -> [2,2,3]
  const Tensor y = run_node(O::Add, {make({2, 1, 3}, {1, 2, 3, 4, 5, 6}), make({1, 2, 1}, {100, 200})}, binary_attrs());
  EXPECT_TRUE(values_are(y, {2, 2, 3}, {101, 102, 103, 201, 202, 203, 104, 105, 106, 204, 205, 206}));
}

TEST(BinaryKernel, FusedActivations) {
  const Tensor a = vec({-4, -1, 0.5f, 3});
  const Tensor b = vec({1, 0, 0.5f, 5});
  // a + b = [-3, -1, 1, 8]
  EXPECT_TRUE(values_are(run_node(O::Add, {a, b}, binary_attrs(act(K::Relu))), {4}, {0, 0, 1, 8}));
  EXPECT_TRUE(values_are(run_node(O::Add, {a, b}, binary_attrs(act(K::Clip, -2, 6))), {4}, {-2, -1, 1, 6}));
  // a - b = [-5, -1, 0, -2]
  EXPECT_TRUE(values_are(run_node(O::Sub, {a, b}, binary_attrs(act(K::LeakyRelu, 0.5f))), {4}, {-2.5f, -0.5f, 0, -1}));
  // a * b = [-4, 0, 0.25, 15]
  EXPECT_TRUE(values_are(run_node(O::Mul, {a, b}, binary_attrs(act(K::HardSigmoid, 0.2f, 0.5f))), {4},
                         {0, 0.5f, 0.55f, 1}, 1e-6f));
  EXPECT_TRUE(values_are(run_node(O::Mul, {a, b}, binary_attrs(act(K::HardSwish))), {4}, {0, 0, 0.25f * 3.25f / 6, 15},
                         1e-6f));
  // a / b with b != 0: [-4, ., 1, 0.6]
  const Tensor d = run_node(O::Div, {vec({-4, 1, 0.6f}), vec({1, 1, 1})}, binary_attrs(act(K::Sigmoid)));
  EXPECT_TRUE(values_are(d, {3}, {0.0179862100f, 0.731058578630f, 0.645656306f}, 1e-6f));
  EXPECT_TRUE(values_are(run_node(O::Div, {vec({2}), vec({-4})}, binary_attrs(act(K::Tanh))), {1}, {-0.462117157f},
                         1e-6f));
}

TEST(BinaryKernel, RandomBroadcastPatternsAgainstNaive) {
  const std::vector<std::pair<Shape, Shape>> patterns = {
      {{3, 5}, {3, 5}},          {{2, 3, 7}, {7}},        {{2, 3, 7}, {3, 1}},    {{1, 13, 1, 5}, {3, 13, 4, 1}},
      {{}, {4, 3}},              {{6, 1}, {1, 9}},        {{5}, {2, 3, 5}},       {{2, 1, 3, 1, 2}, {4, 1, 5, 2}},
      {{1, 1, 1}, {2, 3, 4}},    {{7, 1, 1}, {7, 5, 3}}};
  const fb::FusedActivation acts[] = {act(K::None), act(K::Relu), act(K::Clip, -0.3f, 0.4f), act(K::LeakyRelu, 0.2f),
                                      act(K::Sigmoid), act(K::HardSigmoid, 0.2f, 0.5f), act(K::HardSwish),
                                      act(K::Tanh)};
  int i = 0;
  for (const auto& [sa, sb] : patterns)
    for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
      const auto a = random_tensor(sa, 1000 + i, -2.0f, 2.0f);
      // Divisors away from zero.
      const auto b = op == O::Div ? random_tensor(sb, 2000 + i, 0.5f, 2.0f) : random_tensor(sb, 2000 + i, -2.0f, 2.0f);
      const auto& f = acts[i % 8];
      ASSERT_TRUE(close_to(run_node(op, {a, b}, binary_attrs(f)), naive::binary(op, a, b, f), 1e-6))
          << op_name(op) << " " << shape_to_string(sa) << " with " << shape_to_string(sb);
      ASSERT_TRUE(close_to(run_node(op, {b, a}, binary_attrs(f)), naive::binary(op, b, a, f), 1e-6))
          << op_name(op) << " " << shape_to_string(sb) << " with " << shape_to_string(sa);
      ++i;
    }
}

// ---- In place: elementwise kernels accept output == input ----------------------

TEST(ElementwiseKernel, InPlaceOutputEqualsInput) {
  // The memory planner may give an elementwise output its input's bytes.
  using reference::InputView;
  using reference::OutputView;
  const Shape s{2, 3};
  {
    std::vector<float> data{-1, 2, -3, 4, -5, 6};
    Node node;
    node.name = "relu";
    node.op = O::Relu;
    const InputView in[] = {{data.data(), &s}};
    const OutputView out[] = {{data.data(), &s}};
    reference::kernel_for(O::Relu)(reference::KernelArgs{&node, in, out});
    EXPECT_EQ(data, (std::vector<float>{0, 2, 0, 4, 0, 6}));
  }
  {
    std::vector<float> a{1, 2, 3, 4, 5, 6};
    const std::vector<float> b{10, 20, 30};
    const Shape bs{3};
    Node node;
    node.name = "add";
    node.op = O::Add;
    node.attrs = make_attrs(binary_attrs(act(K::Clip, 0, 30)));
    const InputView in[] = {{a.data(), &s}, {b.data(), &bs}};
    const OutputView out[] = {{a.data(), &s}};
    reference::kernel_for(O::Add)(reference::KernelArgs{&node, in, out});
    EXPECT_EQ(a, (std::vector<float>{11, 22, 30, 14, 25, 30}));
  }
}

// ---- BatchNormalization --------------------------------------------------------

TEST(BatchNormKernel, HandComputed) {
  // y = (x - mean) / sqrt(var + eps) * scale + bias, eps 0 here.
  const Tensor y = run_node(O::BatchNormalization,
                            {make({1, 2, 1, 2}, {1, 3, 2, 4}), vec({2, 0.5f}), vec({1, -1}), vec({2, 3}), vec({4, 0.25f})},
                            batchnorm_attrs(0.0f));
  EXPECT_TRUE(values_are(y, {1, 2, 1, 2}, {0, 2, -2, 0}));
  // Epsilon matters: var 0, eps 0.25 -> divide by 0.5.
  const Tensor z = run_node(O::BatchNormalization, {make({2, 1}, {1, 2}), vec({1}), vec({0}), vec({0}), vec({0})},
                            batchnorm_attrs(0.25f));
  EXPECT_TRUE(values_are(z, {2, 1}, {2, 4}));
}

TEST(BatchNormKernel, RandomRanksAgainstNaive) {
  for (const Shape& s : std::vector<Shape>{{3, 5}, {2, 7, 3}, {2, 3, 5, 4}, {1, 13, 2, 3, 2}}) {
    const int64_t c = s[1];
    const auto x = random_tensor(s, 1);
    const auto scale = random_tensor({c}, 2, 0.5f, 2.0f), bias = random_tensor({c}, 3);
    const auto mean = random_tensor({c}, 4), var = random_tensor({c}, 5, 0.1f, 3.0f);
    EXPECT_TRUE(close_to(run_node(O::BatchNormalization, {x, scale, bias, mean, var}, batchnorm_attrs(1e-3f)),
                         naive::batch_norm(x, scale, bias, mean, var, 1e-3f), 1e-5))
        << shape_to_string(s);
  }
}

// ---- Copy ops --------------------------------------------------------------------

TEST(CopyKernel, ReshapeLikeOpsKeepValuesAndChangeShapes) {
  const Tensor x = random_tensor({2, 1, 3, 1}, 9);
  const std::vector<float> v(x.data(), x.data() + x.size());
  EXPECT_TRUE(values_are(run_node(O::Identity, {x}), {2, 1, 3, 1}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Dropout, {x}), {2, 1, 3, 1}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Reshape, {x}, reshape_attrs({3, 2})), {3, 2}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Flatten, {x}, flatten_attrs(2)), {2, 3}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Flatten, {x}, flatten_attrs(0)), {1, 6}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Squeeze, {x}, axes_attrs({1, 3})), {2, 3}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Unsqueeze, {x}, axes_attrs({0, 5})), {1, 2, 1, 3, 1, 1}, v, 0));
}

TEST(CopyKernel, CopyWritesADistinctOutput) {
  // Called directly with separate buffers, the copy kernel must move the data.
  const Shape s{5};
  const std::vector<float> in{1, 2, 3, 4, 5};
  std::vector<float> out(5, -1);
  Node node;
  node.name = "id";
  node.op = O::Identity;
  const reference::InputView iv[] = {{in.data(), &s}};
  const reference::OutputView ov[] = {{out.data(), &s}};
  reference::kernel_for(O::Identity)(reference::KernelArgs{&node, iv, ov});
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace kiln::test
