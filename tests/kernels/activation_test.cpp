// Reference activations (Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid,
// HardSwish, Tanh): hand-computed values with NaN and infinities, then random
// inputs against the scalar formulas in naive.cpp.
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

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

}  // namespace
}  // namespace kiln::test
