#pragma once
// The one description every backend lowers data-movement ops to: an index
// space of up to kMaxRank axes, read or written through per-axis strides.
// Transpose, Slice, Concat and Split pieces are a copy from one view to
// another, broadcasting operands of the binary ops are views with zero
// strides, ReduceMean walks a kept view and a reduced one, and Pad reads its
// input through a view with bounds. The index arithmetic lives here once; the
// reference walks the views, Vulkan passes them as specialization constants
// and CUDA takes them as kernel arguments.
//
// Plain fixed-size arrays and no graph types: kernels build views without
// allocating (Session::run allocates nothing), and CUDA kernels take them by value.
#include <array>
#include <cstdint>
#include <span>
#include <tuple>

namespace kiln {

inline constexpr size_t kMaxRank = 8;

// The elements one axis of a Slice visits: start, start+step, ... (count of them).
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
using SliceRanges = std::array<SliceRange, kMaxRank>;

// Index (i_0, ..., i_{rank-1}) of `shape` lives at offset + sum_d i_d * strides[d].
struct StridedView {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};  // 0 on broadcast axes
  int64_t offset = 0;

  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
  }
};

// Row-major, offset 0.
StridedView contiguous_view(std::span<const int64_t> shape);
// `operand` read as if broadcast to `out` (numpy rules: right-aligned, stride 0 on size-1 axes).
StridedView broadcast_view(std::span<const int64_t> operand, std::span<const int64_t> out);
// The input of Transpose(perm) in the output's index order.
StridedView transpose_view(std::span<const int64_t> in, std::span<const int32_t> perm);
// The elements of `in` a Slice visits, in the output's index order.
StridedView slice_view(std::span<const int64_t> in, const SliceRanges& ranges);
// The slab of `whole` shaped like `piece` that starts at `start` along `axis`:
// where Concat writes an input and where Split reads an output.
StridedView slab_view(std::span<const int64_t> whole, std::span<const int64_t> piece, int axis, int64_t start);

// ReduceMean over `axes` (empty: all; negative counted from the end): each
// output element is the mean over `reduced` at base offset `kept`; `kept`
// enumerates the outputs in order (reduced axes have size 1 there).
struct ReduceViews {
  StridedView kept, reduced;
};
ReduceViews reduce_views(std::span<const int64_t> in, std::span<const int32_t> axes);

// Pad: output index o reads input index o - begin where that is inside the
// input, else the pad value. `source` spans the output's index space with the
// input's strides and offset -sum(begin * stride), so an inside index's
// element is at the usual view offset.
struct PadView {
  StridedView source;
  int64_t in_shape[kMaxRank] = {};
  int64_t begin[kMaxRank] = {};
};
PadView pad_view(std::span<const int64_t> in, std::span<const int64_t> out, std::span<const int64_t> pads);

// Calls f(offset_0, ..., offset_{N-1}) for every index of views[0]'s shape in
// row-major order; all views must share that shape.
template <size_t N, class F>
void for_each_offset(const std::array<const StridedView*, N>& views, F&& f) {
  const StridedView& v0 = *views[0];
  const int rank = v0.rank;
  const int64_t total = v0.count();
  int64_t idx[kMaxRank] = {};
  std::array<int64_t, N> off{};
  for (size_t k = 0; k < N; ++k) off[k] = views[k]->offset;
  for (int64_t i = 0; i < total; ++i) {
    std::apply(f, off);
    for (int d = rank; d-- > 0;) {
      if (++idx[d] < v0.shape[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += views[k]->strides[d];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= views[k]->strides[d] * (v0.shape[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace kiln
