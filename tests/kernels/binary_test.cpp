// Reference Add, Sub, Mul and Div: broadcasting, IEEE division by zero, fused
// activations, random broadcast patterns against naive.cpp, and elementwise
// kernels (Relu, Add) whose output is their input.
#include "engine/core/op_info.hpp"
#include "kernels/reference/kernels.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

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

}  // namespace
}  // namespace kiln::test
