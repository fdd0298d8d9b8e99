#include "engine/core/strided_view.hpp"

#include <string>

#include "kiln/error.hpp"

namespace kiln {

namespace {
StridedView with_shape(std::span<const int64_t> shape) {
  if (shape.size() > kMaxRank)
    throw Error(ErrorCode::Unsupported, "a tensor of rank " + std::to_string(shape.size()) + " (at most " +
                                            std::to_string(kMaxRank) + " axes are supported)");
  StridedView v;
  v.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) v.shape[d] = shape[d];
  return v;
}

void row_major(std::span<const int64_t> shape, int64_t* strides) {
  int64_t s = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = s;
    s *= shape[d];
  }
}
}  // namespace

StridedView contiguous_view(std::span<const int64_t> shape) {
  StridedView v = with_shape(shape);
  row_major(shape, v.strides);
  return v;
}

StridedView broadcast_view(std::span<const int64_t> operand, std::span<const int64_t> out) {
  StridedView v = with_shape(out);
  int64_t s = 1;
  for (size_t i = operand.size(); i-- > 0;) {
    v.strides[out.size() - operand.size() + i] = operand[i] == 1 ? 0 : s;
    s *= operand[i];
  }
  return v;
}

StridedView transpose_view(std::span<const int64_t> in, std::span<const int32_t> perm) {
  const StridedView src = contiguous_view(in);
  StridedView v = with_shape(in);
  for (size_t d = 0; d < perm.size(); ++d) {
    v.shape[d] = in[static_cast<size_t>(perm[d])];
    v.strides[d] = src.strides[perm[d]];
  }
  return v;
}

StridedView slice_view(std::span<const int64_t> in, const SliceRanges& ranges) {
  StridedView v = contiguous_view(in);
  int64_t base = 0;
  for (int d = 0; d < v.rank; ++d) {
    const SliceRange& r = ranges[static_cast<size_t>(d)];
    base += r.start * v.strides[d];
    // An axis that yields at most one element never steps: skipping the
    // product keeps huge steps (e.g. INT64_MAX) from overflowing.
    v.strides[d] = r.count > 1 ? r.step * v.strides[d] : 0;
    v.shape[d] = r.count;
  }
  // An empty slice reads nothing; its start may lie outside the input.
  v.offset = v.count() > 0 ? base : 0;
  return v;
}

StridedView slab_view(std::span<const int64_t> whole, std::span<const int64_t> piece, int axis, int64_t start) {
  StridedView v = contiguous_view(whole);
  v.offset = start * v.strides[axis];
  for (size_t d = 0; d < piece.size(); ++d) v.shape[d] = piece[d];
  return v;
}

ReduceViews reduce_views(std::span<const int64_t> in, std::span<const int32_t> axes) {
  const StridedView all = contiguous_view(in);
  bool reduced[kMaxRank] = {};
  for (size_t d = 0; d < in.size(); ++d) reduced[d] = axes.empty();
  for (int32_t a : axes) reduced[a < 0 ? a + static_cast<int32_t>(in.size()) : a] = true;
  ReduceViews r;
  r.kept = all;
  r.reduced = all;
  for (int d = 0; d < all.rank; ++d) {
    if (reduced[d])
      r.kept.shape[d] = 1, r.kept.strides[d] = 0;
    else
      r.reduced.shape[d] = 1, r.reduced.strides[d] = 0;
  }
  return r;
}

PadView pad_view(std::span<const int64_t> in, std::span<const int64_t> out, std::span<const int64_t> pads) {
  PadView p;
  const StridedView src = contiguous_view(in);
  p.source = with_shape(out);
  for (int d = 0; d < src.rank; ++d) {
    p.in_shape[d] = in[static_cast<size_t>(d)];
    p.begin[d] = pads[static_cast<size_t>(d)];
    p.source.strides[d] = src.strides[d];
    p.source.offset -= p.begin[d] * src.strides[d];
  }
  return p;
}

}  // namespace kiln
