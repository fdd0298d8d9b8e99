// The strided views of engine/core/strided_view.hpp, which every backend's
// Transpose, Slice, Concat, Split, Pad, ReduceMean and broadcasting binary
// ops lower to: each view's offsets against index arithmetic written out
// directly (row-major multi-indices), on several ranks and shapes.
#include "engine/core/strided_view.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::test {
namespace {

using Shape = std::vector<int64_t>;

// Every multi-index of `shape`, row-major.
std::vector<Shape> indices(const Shape& shape) {
  std::vector<Shape> out;
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  for (int64_t i = 0; i < total; ++i) {
    Shape idx(shape.size());
    int64_t rest = i;
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rest % shape[d];
      rest /= shape[d];
    }
    out.push_back(idx);
  }
  return out;
}

int64_t flat(const Shape& idx, const Shape& shape) {
  int64_t off = 0;
  for (size_t d = 0; d < shape.size(); ++d) off = off * shape[d] + idx[d];
  return off;
}

std::vector<int64_t> offsets_of(const StridedView& v) {
  std::vector<int64_t> out;
  for_each_offset<1>({&v}, [&](int64_t o) { out.push_back(o); });
  return out;
}

TEST(StridedView, ContiguousIsRowMajor) {
  for (const Shape& s : {Shape{}, Shape{5}, Shape{2, 3}, Shape{2, 1, 4, 3}, Shape{1, 2, 1, 2, 1, 2, 1, 2}}) {
    const StridedView v = contiguous_view(s);
    std::vector<int64_t> want(static_cast<size_t>(v.count()));
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(offsets_of(v), want);
  }
}

TEST(StridedView, BroadcastGivesZeroStridesOnSizeOneAndMissingAxes) {
  const Shape out{2, 3, 4, 5};
  for (const Shape& a : {Shape{5}, Shape{3, 1, 1}, Shape{1, 3, 4, 1}, Shape{2, 1, 4, 5}, Shape{1}, Shape{}}) {
    const StridedView v = broadcast_view(a, out);
    std::vector<int64_t> want;
    for (const Shape& idx : indices(out)) {
      Shape ia(a.size());
      for (size_t d = 0; d < a.size(); ++d) ia[d] = a[d] == 1 ? 0 : idx[out.size() - a.size() + d];
      want.push_back(flat(ia, a));
    }
    EXPECT_EQ(offsets_of(v), want) << "operand of rank " << a.size();
  }
}

TEST(StridedView, TransposeReadsTheInputInTheOutputsOrder) {
  const Shape in{2, 3, 4, 5};
  for (const std::vector<int32_t>& perm : {std::vector<int32_t>{0, 2, 3, 1}, {3, 1, 0, 2}, {0, 1, 2, 3}}) {
    const StridedView v = transpose_view(in, perm);
    Shape out(4);
    for (size_t d = 0; d < 4; ++d) out[d] = in[static_cast<size_t>(perm[d])];
    std::vector<int64_t> want;
    for (const Shape& idx : indices(out)) {
      Shape src(4);
      for (size_t d = 0; d < 4; ++d) src[static_cast<size_t>(perm[d])] = idx[d];
      want.push_back(flat(src, in));
    }
    EXPECT_EQ(offsets_of(v), want);
  }
}

TEST(StridedView, SliceStepsForwardBackwardAndEmpty) {
  const Shape in{6, 10, 8};
  SliceRanges r{};
  r[0] = {1, 2, 3};   // 1, 3, 5
  r[1] = {8, -3, 3};  // 8, 5, 2
  r[2] = {0, 1, 8};
  const StridedView v = slice_view(in, r);
  std::vector<int64_t> want;
  for (const Shape& idx : indices({3, 3, 8})) want.push_back(flat({1 + 2 * idx[0], 8 - 3 * idx[1], idx[2]}, in));
  EXPECT_EQ(offsets_of(v), want);
  // One element on an axis with a huge step: no step product that could overflow.
  r[1] = {9, INT64_MAX, 1};
  EXPECT_EQ(slice_view(in, r).strides[1], 0);
  // An empty slice reads nothing, whatever its start.
  r[0] = {6, 1, 0};
  EXPECT_EQ(slice_view(in, r).count(), 0);
  EXPECT_EQ(slice_view(in, r).offset, 0);
}

TEST(StridedView, SlabsTileTheWholeAlongTheAxis) {
  const Shape whole{2, 9, 4};
  const std::vector<Shape> pieces = {{2, 2, 4}, {2, 3, 4}, {2, 4, 4}};
  std::vector<int> hits(2 * 9 * 4, 0);
  int64_t start = 0;
  for (const Shape& p : pieces) {
    const StridedView v = slab_view(whole, p, 1, start);
    std::vector<int64_t> want;
    for (const Shape& idx : indices(p)) want.push_back(flat({idx[0], start + idx[1], idx[2]}, whole));
    EXPECT_EQ(offsets_of(v), want);
    for (int64_t o : offsets_of(v)) ++hits[static_cast<size_t>(o)];
    start += p[1];
  }
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(StridedView, ReduceSplitsKeptAndReducedAxes) {
  const Shape in{2, 3, 4, 5};
  for (const std::vector<int32_t>& axes : {std::vector<int32_t>{2, 3}, {1}, {-1}, {0, 2}, {}}) {
    const ReduceViews v = reduce_views(in, axes);
    std::vector<bool> reduced(4, axes.empty());
    for (int32_t a : axes) reduced[static_cast<size_t>(a < 0 ? a + 4 : a)] = true;
    Shape kept_shape(4), red_shape(4);
    for (size_t d = 0; d < 4; ++d) kept_shape[d] = reduced[d] ? 1 : in[d], red_shape[d] = reduced[d] ? in[d] : 1;
    std::vector<int64_t> kept, red;
    for (const Shape& idx : indices(kept_shape)) kept.push_back(flat(idx, in));
    for (const Shape& idx : indices(red_shape)) red.push_back(flat(idx, in));
    EXPECT_EQ(offsets_of(v.kept), kept);
    EXPECT_EQ(offsets_of(v.reduced), red);
  }
}

TEST(StridedView, PadReadsInsideAndKnowsTheBounds) {
  const Shape in{2, 3, 4};
  const std::vector<int64_t> pads = {0, 1, -1, 1, 2, 2};  // begins, then ends; a negative pad crops
  const Shape out{3, 6, 5};
  const PadView p = pad_view(in, out, pads);
  std::vector<int64_t> offsets = offsets_of(p.source);
  const std::vector<Shape> all = indices(out);
  ASSERT_EQ(offsets.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const Shape& o = all[i];
    bool inside = true;
    Shape src(3);
    for (size_t d = 0; d < 3; ++d) {
      src[d] = o[d] - pads[d];
      inside = inside && src[d] >= 0 && src[d] < in[d];
      EXPECT_EQ(o[d] >= p.begin[d] && o[d] - p.begin[d] < p.in_shape[d], src[d] >= 0 && src[d] < in[d]);
    }
    if (inside) {
      EXPECT_EQ(offsets[i], flat(src, in));
    }
  }
}

TEST(StridedView, RankAboveEightIsAClearError) { EXPECT_THROW(contiguous_view(Shape(9, 1)), Error); }

}  // namespace
}  // namespace kiln::test
