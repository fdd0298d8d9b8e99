// Reference Transpose, Concat, Split, Slice and Pad: hand-computed cases, then
// random against naive.cpp.
#include <algorithm>
#include <limits>
#include <random>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// The hand-computed cases here index from 0, so count from 0 (kernel_util's
// iota starts at 1).
std::vector<float> iota(int64_t n, float start = 0.0f) { return kiln::test::iota(n, start); }

// ---- Transpose -----------------------------------------------------------------

TEST(TransposeKernel, HandComputed) {
  EXPECT_TRUE(values_are(run_node(O::Transpose, {make({2, 3}, {1, 2, 3, 4, 5, 6})}, transpose_attrs({1, 0})), {3, 2},
                         {1, 4, 2, 5, 3, 6}));
  // [2,2,2] = 0..7 with perm (2,0,1): y[k][i][j] = x[i][j][k]
  EXPECT_TRUE(values_are(run_node(O::Transpose, {make({2, 2, 2}, iota(8))}, transpose_attrs({2, 0, 1})), {2, 2, 2},
                         {0, 2, 4, 6, 1, 3, 5, 7}));
  // The identity permutation copies.
  EXPECT_TRUE(values_are(run_node(O::Transpose, {make({2, 3}, iota(6))}, transpose_attrs({0, 1})), {2, 3}, iota(6)));
}

TEST(TransposeKernel, RandomAgainstNaive) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    const size_t rank = 1 + rng() % 6;
    Shape s;
    for (size_t d = 0; d < rank; ++d) s.push_back(1 + rng() % 5);
    std::vector<int32_t> perm(rank);
    for (size_t d = 0; d < rank; ++d) perm[d] = static_cast<int32_t>(d);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Tensor x = random_tensor(s, 70 + trial);
    ASSERT_TRUE(close_to(run_node(O::Transpose, {x}, transpose_attrs(perm)), naive::transpose(x, perm), 0.0))
        << shape_to_string(s);
  }
}

// ---- Concat / Split ------------------------------------------------------------

TEST(ConcatKernel, HandComputed) {
  const Tensor a = make({2, 2}, {1, 2, 3, 4});
  const Tensor b = make({1, 2}, {5, 6});
  const Tensor c = make({2, 1}, {7, 8});
  EXPECT_TRUE(values_are(run_node(O::Concat, {a, b}, concat_attrs(0)), {3, 2}, {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(values_are(run_node(O::Concat, {a, c, a}, concat_attrs(1)), {2, 5}, {1, 2, 7, 1, 2, 3, 4, 8, 3, 4}));
  // A zero-sized part contributes nothing.
  EXPECT_TRUE(values_are(run_node(O::Concat, {a, Tensor({2, 0})}, concat_attrs(1)), {2, 2}, {1, 2, 3, 4}));
}

TEST(ConcatKernel, RandomAgainstNaive) {
  std::mt19937 rng(6);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t rank = 1 + rng() % 4;
    const int64_t axis = static_cast<int64_t>(rng() % rank);
    Shape s;
    for (size_t d = 0; d < rank; ++d) s.push_back(1 + rng() % 4);
    std::vector<Tensor> parts;
    const size_t n = 1 + rng() % 4;
    for (size_t i = 0; i < n; ++i) {
      Shape p = s;
      p[static_cast<size_t>(axis)] = 1 + rng() % 5;
      parts.push_back(random_tensor(p, 80 + trial * 10 + static_cast<uint32_t>(i)));
    }
    ASSERT_TRUE(close_to(run_node(O::Concat, parts, concat_attrs(static_cast<int32_t>(axis))), naive::concat(parts, axis),
                         0.0));
  }
}

TEST(SplitKernel, HandComputedIncludingAnEmptyPart) {
  const Tensor x = make({2, 5}, iota(10));
  const auto parts = run_node_n(O::Split, {x}, make_attrs(split_attrs(1, {2, 0, 3})), 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(values_are(parts[0], {2, 2}, {0, 1, 5, 6}));
  EXPECT_TRUE(values_are(parts[1], {2, 0}, {}));
  EXPECT_TRUE(values_are(parts[2], {2, 3}, {2, 3, 4, 7, 8, 9}));
  const auto rows = run_node_n(O::Split, {x}, make_attrs(split_attrs(0, {1, 1})), 2);
  EXPECT_TRUE(values_are(rows[0], {1, 5}, {0, 1, 2, 3, 4}));
  EXPECT_TRUE(values_are(rows[1], {1, 5}, {5, 6, 7, 8, 9}));
}

TEST(SplitKernel, RandomAgainstNaive) {
  const Tensor x = random_tensor({3, 7, 4}, 90);
  for (int32_t axis = 0; axis < 3; ++axis) {
    const int64_t dim = x.shape()[static_cast<size_t>(axis)];
    const std::vector<int64_t> sizes = {dim / 3, dim - dim / 3 - 1, 1};
    const auto got = run_node_n(O::Split, {x}, make_attrs(split_attrs(axis, sizes)), 3);
    const auto want = naive::split(x, axis, sizes);
    for (size_t i = 0; i < 3; ++i) {
      if (want[i].size() == 0) {
        EXPECT_EQ(got[i].shape(), want[i].shape());
        continue;
      }
      EXPECT_TRUE(close_to(got[i], want[i], 0.0)) << "axis " << axis << " part " << i;
    }
  }
}

// ---- Slice -----------------------------------------------------------------------

Tensor slice(const Tensor& x, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int32_t> axes,
             std::vector<int64_t> steps) {
  return run_node(O::Slice, {x}, slice_attrs(std::move(starts), std::move(ends), std::move(axes), std::move(steps)));
}

TEST(SliceKernel, PositiveSteps) {
  const Tensor x = make({10}, iota(10));
  EXPECT_TRUE(values_are(slice(x, {2}, {kMax}, {0}, {3}), {3}, {2, 5, 8}));
  EXPECT_TRUE(values_are(slice(x, {-3}, {100}, {0}, {1}), {3}, {7, 8, 9}));
  EXPECT_TRUE(values_are(slice(x, {-100}, {-8}, {0}, {1}), {2}, {0, 1}));
  EXPECT_TRUE(values_are(slice(x, {5}, {5}, {0}, {1}), {0}, {}));
  EXPECT_TRUE(values_are(slice(x, {3}, {10}, {0}, {100}), {1}, {3}));
  EXPECT_TRUE(values_are(slice(x, {1}, {kMax}, {0}, {kMax}), {1}, {1}));
}

TEST(SliceKernel, NegativeSteps) {
  const Tensor x = make({10}, iota(10));
  EXPECT_TRUE(values_are(slice(x, {-1}, {kMin}, {0}, {-1}), {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_TRUE(values_are(slice(x, {8}, {1}, {0}, {-2}), {4}, {8, 6, 4, 2}));
  EXPECT_TRUE(values_are(slice(x, {100}, {-100}, {0}, {-3}), {4}, {9, 6, 3, 0}));
  EXPECT_TRUE(values_are(slice(x, {2}, {5}, {0}, {-1}), {0}, {}));
  EXPECT_TRUE(values_are(slice(x, {-1}, {kMin}, {0}, {kMin}), {1}, {9}));
  // ONNX clamps a negative-step start into [0, dim-1]: start -100 -> 0.
  EXPECT_TRUE(values_are(slice(x, {-100}, {-100}, {0}, {-1}), {1}, {0}));
}

TEST(SliceKernel, HugeStepsOnAnOuterAxis) {
  // One row is taken; the step times the row stride must not overflow.
  const Tensor x = make({3, 4}, iota(12));
  EXPECT_TRUE(values_are(slice(x, {1}, {kMax}, {0}, {kMax}), {1, 4}, {4, 5, 6, 7}));
  EXPECT_TRUE(values_are(slice(x, {-1}, {kMin}, {0}, {kMin}), {1, 4}, {8, 9, 10, 11}));
  EXPECT_TRUE(values_are(slice(x, {0, 3}, {kMax, kMin}, {0, 1}, {kMax / 2, kMin + 1}), {1, 1}, {3}));
}

TEST(SliceKernel, SeveralAxes) {
  // x[3,4] = 0..11: rows 2,1,0 and columns 1,3.
  const Tensor x = make({3, 4}, iota(12));
  EXPECT_TRUE(values_are(slice(x, {-1, 1}, {-4, 100}, {0, 1}, {-1, 2}), {3, 2}, {9, 11, 5, 7, 1, 3}));
  // Axes listed out of order.
  EXPECT_TRUE(values_are(slice(x, {1, 1}, {3, 2}, {1, 0}, {1, 1}), {1, 2}, {5, 6}));
}

TEST(SliceKernel, RandomAgainstNaive) {
  std::mt19937 rng(8);
  auto any = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1)); };
  for (int trial = 0; trial < 200; ++trial) {
    const size_t rank = 1 + rng() % 4;
    Shape s;
    for (size_t d = 0; d < rank; ++d) s.push_back(any(1, 7));
    const Tensor x = random_tensor(s, 1000 + trial);
    std::vector<int32_t> axes;
    for (size_t d = 0; d < rank; ++d)
      if (rng() % 2) axes.push_back(static_cast<int32_t>(d));
    std::shuffle(axes.begin(), axes.end(), rng);
    std::vector<int64_t> starts, ends, steps;
    for (size_t k = 0; k < axes.size(); ++k) {
      auto bound = [&] {
        switch (rng() % 6) {
          case 0: return kMax;
          case 1: return kMin;
          default: return any(-10, 10);
        }
      };
      starts.push_back(bound());
      ends.push_back(bound());
      int64_t step = any(-3, 3);
      if (step == 0) step = rng() % 2 ? 1 : -1;
      steps.push_back(step);
    }
    const Tensor want = naive::slice(x, starts, ends, axes, steps);
    const Tensor got = slice(x, starts, ends, axes, steps);
    ASSERT_EQ(got.shape(), want.shape()) << "trial " << trial;
    for (int64_t i = 0; i < want.size(); ++i) ASSERT_EQ(got.data()[i], want.data()[i]) << "trial " << trial;
  }
}

// ---- Pad -------------------------------------------------------------------------

TEST(PadKernel, HandComputed) {
  // [[1,2],[3,4]] with one row on top and two columns on the right, value 9.
  EXPECT_TRUE(values_are(run_node(O::Pad, {make({2, 2}, {1, 2, 3, 4})}, pad_attrs({1, 0, 0, 2}, 9)), {3, 4},
                         {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9}));
  // Zero pads copy.
  EXPECT_TRUE(values_are(run_node(O::Pad, {make({2, 2}, {1, 2, 3, 4})}, pad_attrs({0, 0, 0, 0}, 9)), {2, 2},
                         {1, 2, 3, 4}));
}

TEST(PadKernel, NegativePadsCrop) {
  // 3x3 = 1..9: drop the first row, add a column on the left, drop the last column.
  EXPECT_TRUE(values_are(run_node(O::Pad, {make({3, 3}, iota(9, 1))}, pad_attrs({-1, 1, 0, -1}, 0)), {2, 3},
                         {0, 4, 5, 0, 7, 8}));
  // Crop on both ends of one axis while padding the other.
  EXPECT_TRUE(values_are(run_node(O::Pad, {make({1, 5}, iota(5, 1))}, pad_attrs({1, -2, 0, -1}, -1)), {2, 2},
                         {-1, -1, 3, 4}));
}

TEST(PadKernel, RandomAgainstNaive) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t rank = 1 + rng() % 4;
    Shape s;
    for (size_t d = 0; d < rank; ++d) s.push_back(1 + static_cast<int64_t>(rng() % 5));
    std::vector<int64_t> pads(2 * rank);
    for (size_t d = 0; d < rank; ++d) {
      // Keep every output axis non-empty.
      pads[d] = static_cast<int64_t>(rng() % 4) - 1;
      pads[rank + d] = static_cast<int64_t>(rng() % 4) - 1;
      while (s[d] + pads[d] + pads[rank + d] < 1) ++pads[rank + d];
    }
    const Tensor x = random_tensor(s, 3000 + trial);
    ASSERT_TRUE(close_to(run_node(O::Pad, {x}, pad_attrs(pads, 0.25f)), naive::pad(x, pads, 0.25f), 0.0))
        << shape_to_string(s);
  }
}

}  // namespace
}  // namespace kiln::test
