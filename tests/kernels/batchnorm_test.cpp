// Reference BatchNormalization: hand-computed (epsilon included), then random
// ranks against naive.cpp.
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

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

}  // namespace
}  // namespace kiln::test
