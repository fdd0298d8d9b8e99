// Reference MaxPool, AveragePool and the global pools: hand-computed cases,
// then random shapes against the naive formulas in naive.cpp.
#include <random>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

// ---- Pools: hand-computed ----------------------------------------------------

TEST(PoolKernel, MaxPoolStride2) {
  const Tensor y = run_node(O::MaxPool, {make({1, 1, 4, 4}, iota(16, 0))}, pool_attrs({2, 2}, {2, 2}));
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {5, 7, 13, 15}));
}

TEST(PoolKernel, MaxPoolPaddingIsNotAValue) {
  // All inputs negative: a zero from the padding would win if it were counted.
  const Tensor y = run_node(O::MaxPool, {make({1, 1, 4, 4}, iota(16, -1, -1))}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}));
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {-1, -2, -5, -6}));
}

TEST(PoolKernel, MaxPoolDilation) {
  const Tensor y = run_node(O::MaxPool, {make({1, 1, 1, 5}, {3, 1, 4, 1, 5})}, pool_attrs({1, 2}, {}, {}, {1, 2}));
  EXPECT_TRUE(values_are(y, {1, 1, 1, 3}, {4, 1, 5}));
}

TEST(PoolKernel, MaxPoolCeilMode) {
  const Tensor x = make({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_TRUE(values_are(run_node(O::MaxPool, {x}, pool_attrs({1, 2}, {1, 2}, {}, {}, true)), {1, 1, 1, 3}, {2, 4, 5}));
  EXPECT_TRUE(values_are(run_node(O::MaxPool, {x}, pool_attrs({1, 2}, {1, 2}, {}, {}, false)), {1, 1, 1, 2}, {2, 4}));
}

TEST(PoolKernel, AveragePoolCountIncludePadBothWays) {
  // 3x3 = 1..9, k 2, s 2, bottom/right pads 1: windows rows {0,1},{2,3}, same columns.
  const Tensor x = make({1, 1, 3, 3}, iota(9));
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {x}, pool_attrs({2, 2}, {2, 2}, {0, 0, 1, 1}, {}, false, false)),
                         {1, 1, 2, 2}, {3, 4.5f, 7.5f, 9}));
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {x}, pool_attrs({2, 2}, {2, 2}, {0, 0, 1, 1}, {}, false, true)),
                         {1, 1, 2, 2}, {3, 2.25f, 3.75f, 2.25f}));
}

TEST(PoolKernel, AveragePoolCeilModeWithPadding) {
  // x = 1..6, k 3, s 2, pads 1/1, ceil: windows at -1, 1, 3, 5; the last covers
  // 5 (input), 6 (end padding) and 7 (beyond the padding, never counted).
  const Tensor x = make({1, 1, 6}, iota(6));
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {x}, pool_attrs({3}, {2}, {1, 1}, {}, true, true)), {1, 1, 4},
                         {1, 3, 5, 3}));
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {x}, pool_attrs({3}, {2}, {1, 1}, {}, true, false)), {1, 1, 4},
                         {1.5f, 3, 5, 6}));
}

TEST(PoolKernel, AveragePoolDilationAnd3d) {
  // 1-D dilation 2, k 2: windows {0,2},{1,3},{2,4} of [2,4,6,8,10]
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {make({1, 1, 5}, {2, 4, 6, 8, 10})}, pool_attrs({2}, {}, {}, {2})),
                         {1, 1, 3}, {4, 6, 8}));
  // 3-D 2x2x2 mean of 1..8 = 4.5
  EXPECT_TRUE(values_are(run_node(O::AveragePool, {make({1, 1, 2, 2, 2}, iota(8))}, pool_attrs({2, 2, 2})),
                         {1, 1, 1, 1, 1}, {4.5f}));
}

TEST(PoolKernel, GlobalPools) {
  const Tensor x = make({1, 2, 2, 2}, {1, 2, 3, 4, -1, -5, 2, 0});
  EXPECT_TRUE(values_are(run_node(O::GlobalAveragePool, {x}), {1, 2, 1, 1}, {2.5f, -1}));
  EXPECT_TRUE(values_are(run_node(O::GlobalMaxPool, {x}), {1, 2, 1, 1}, {4, 2}));
  const Tensor x1 = make({2, 1, 3}, {-4, -2, -3, 1, 0, 5});
  EXPECT_TRUE(values_are(run_node(O::GlobalAveragePool, {x1}), {2, 1, 1}, {-3, 2}));
  EXPECT_TRUE(values_are(run_node(O::GlobalMaxPool, {x1}), {2, 1, 1}, {-2, 5}));
}

// ---- Pools: random against the naive formula ---------------------------------

TEST(PoolKernel, RandomShapesMatchTheNaiveFormula) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  for (int trial = 0; trial < 80; ++trial) {
    const int rank = pick(1, 3);
    naive::PoolParams p;
    p.ceil_mode = rng() % 2;
    p.count_include_pad = rng() % 2;
    Shape xs{pick(1, 2), pick(1, 7)};
    for (int a = 0; a < rank; ++a) {
      const int k = pick(1, 4), d = pick(1, 2);
      p.kernel.push_back(k);
      p.dilations.push_back(d);
      p.strides.push_back(pick(1, 3));
      p.pads.push_back(pick(0, k - 1));  // padding smaller than the kernel, as ONNX requires
      xs.push_back(pick(1, rank == 3 ? 6 : 12) + (k - 1) * d);
    }
    for (int a = 0; a < rank; ++a) p.pads.push_back(pick(0, p.kernel[static_cast<size_t>(a)] - 1));
    const Tensor x = random_tensor(xs, 500 + trial, -2.0f, 1.0f);
    const auto attrs = pool_attrs(i32(p.kernel), i32(p.strides), i32(p.pads), i32(p.dilations), p.ceil_mode,
                                  p.count_include_pad);
    ASSERT_TRUE(close_to(run_node(O::MaxPool, {x}, attrs), naive::max_pool(x, p), 1e-6))
        << "trial " << trial << " " << shape_to_string(xs);
    ASSERT_TRUE(close_to(run_node(O::AveragePool, {x}, attrs), naive::average_pool(x, p), 1e-5))
        << "trial " << trial << " " << shape_to_string(xs);
  }
  for (int trial = 0; trial < 10; ++trial) {
    Shape xs{pick(1, 3), pick(1, 9)};
    for (int a = 0, r = pick(1, 3); a < r; ++a) xs.push_back(pick(1, 7));
    const Tensor x = random_tensor(xs, 900 + trial);
    ASSERT_TRUE(close_to(run_node(O::GlobalAveragePool, {x}), naive::global_average_pool(x), 1e-5));
    ASSERT_TRUE(close_to(run_node(O::GlobalMaxPool, {x}), naive::global_max_pool(x), 0.0));
  }
}

}  // namespace
}  // namespace kiln::test
