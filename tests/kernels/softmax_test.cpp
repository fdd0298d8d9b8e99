// Reference Softmax: along one axis or jointly over the trailing axes (opsets
// before 13), large inputs, then random against naive.cpp.
#include <cmath>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

TEST(SoftmaxKernel, SingleAxis) {
  const Tensor y = run_node(O::Softmax, {make({2, 3}, {1, 2, 3, 1, 1, 1})}, softmax_attrs(1));
  EXPECT_TRUE(values_are(y, {2, 3}, {0.0900305732f, 0.244728471f, 0.665240956f, 1.0f / 3, 1.0f / 3, 1.0f / 3}, 1e-6f));
  // Along axis 0: column j is normalised over the rows.
  const float ln3 = std::log(3.0f);
  const Tensor z = run_node(O::Softmax, {make({2, 2}, {0, 0, ln3, 0})}, softmax_attrs(0));
  EXPECT_TRUE(values_are(z, {2, 2}, {0.25f, 0.5f, 0.75f, 0.5f}, 1e-6f));
}

TEST(SoftmaxKernel, AxisAloneVersusTrailingAxes) {
  const float ln5 = std::log(5.0f);
  const Tensor x = make({2, 2, 2}, {0, 0, 0, ln5, 1, 1, 1, 1});
  // Jointly over axes 1 and 2 (opset < 13): each batch of four sums to one.
  EXPECT_TRUE(values_are(run_node(O::Softmax, {x}, softmax_attrs(1, true)), {2, 2, 2},
                         {0.125f, 0.125f, 0.125f, 0.625f, 0.25f, 0.25f, 0.25f, 0.25f}, 1e-6f));
  // Along axis 1 only: pairs (x[b][0][k], x[b][1][k]).
  EXPECT_TRUE(values_are(run_node(O::Softmax, {x}, softmax_attrs(1, false)), {2, 2, 2},
                         {0.5f, 1.0f / 6, 0.5f, 5.0f / 6, 0.5f, 0.5f, 0.5f, 0.5f}, 1e-6f));
  // The last axis: both modes agree.
  EXPECT_TRUE(values_are(run_node(O::Softmax, {x}, softmax_attrs(2, true)), {2, 2, 2},
                         {0.5f, 0.5f, 1.0f / 6, 5.0f / 6, 0.5f, 0.5f, 0.5f, 0.5f}, 1e-6f));
}

TEST(SoftmaxKernel, LargeValuesDoNotOverflow) {
  EXPECT_TRUE(values_are(run_node(O::Softmax, {make({1, 2}, {1000, 1001})}, softmax_attrs(1)), {1, 2},
                         {0.268941421f, 0.731058579f}, 1e-6f));
}

TEST(SoftmaxKernel, RandomAgainstNaive) {
  const Tensor x = random_tensor({3, 4, 5, 2}, 66, -5.0f, 5.0f);
  for (int32_t axis = 0; axis < 4; ++axis)
    for (bool trailing : {false, true})
      EXPECT_TRUE(close_to(run_node(O::Softmax, {x}, softmax_attrs(axis, trailing)), naive::softmax(x, axis, trailing),
                           1e-6))
          << "axis " << axis << " trailing " << trailing;
}

}  // namespace
}  // namespace kiln::test
