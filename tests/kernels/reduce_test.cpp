// Reference ReduceMean: hand-computed, then every kind of axes list, with and
// without keepdims, against naive.cpp.
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

TEST(ReduceMeanKernel, HandComputed) {
  const Tensor x = make({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_TRUE(values_are(run_node(O::ReduceMean, {x}, reduce_attrs({1}, true)), {2, 1}, {2, 5}));
  EXPECT_TRUE(values_are(run_node(O::ReduceMean, {x}, reduce_attrs({0}, false)), {3}, {2.5f, 3.5f, 4.5f}));
  EXPECT_TRUE(values_are(run_node(O::ReduceMean, {x}, reduce_attrs({}, false)), {}, {3.5f}));
  EXPECT_TRUE(values_are(run_node(O::ReduceMean, {x}, reduce_attrs({0, 1}, true)), {1, 1}, {3.5f}));
}

TEST(ReduceMeanKernel, RandomAgainstNaive) {
  const Tensor x = random_tensor({3, 4, 5, 2}, 55);
  for (const auto& axes : std::vector<std::vector<int32_t>>{{0}, {1}, {3}, {1, 2}, {0, 3}, {0, 1, 2, 3}, {}})
    for (bool keep : {true, false})
      EXPECT_TRUE(close_to(run_node(O::ReduceMean, {x}, reduce_attrs(axes, keep)), naive::reduce_mean(x, axes, keep),
                           1e-6))
          << "axes " << axes.size() << " keepdims " << keep;
}

}  // namespace
}  // namespace kiln::test
