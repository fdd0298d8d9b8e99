#include <cstring>

#include "engine/core/shape_inference.hpp"
#include "kernels/reference/indexing.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

void copy(const KernelArgs& a) {
  // The memory planner usually gives reshape-like outputs their input's bytes.
  if (a.outputs[0].data != a.inputs[0].data)
    std::memcpy(a.outputs[0].data, a.inputs[0].data, static_cast<size_t>(element_count(*a.inputs[0].shape)) * sizeof(float));
}

void transpose(const KernelArgs& a) {
  const auto& perm = attrs_as<fb::TransposeAttrsT>(*a.node).perm;
  const Shape& xs = *a.inputs[0].shape;
  const Dims in_strides = row_major_strides(xs);
  Dims permuted(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) permuted[i] = in_strides[perm[i]];
  const std::array<Dims, 1> strides = {permuted};
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  int64_t i = 0;
  for_each_index(*a.outputs[0].shape, strides, [&](int64_t src) { y[i++] = x[src]; });
}

namespace {
// Splits `shape` at `axis` into (outer count, elements from axis on).
std::pair<int64_t, int64_t> outer_inner(const Shape& shape, int64_t axis) {
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis); d < shape.size(); ++d) inner *= shape[d];
  return {outer, inner};
}
}  // namespace

void concat(const KernelArgs& a) {
  const int64_t axis = attrs_as<fb::ConcatAttrsT>(*a.node).axis;
  const auto [outer, out_inner] = outer_inner(*a.outputs[0].shape, axis);
  int64_t col = 0;
  for (const InputView& in : a.inputs) {
    const auto [o, inner] = outer_inner(*in.shape, axis);
    for (int64_t r = 0; r < outer; ++r)
      std::memcpy(a.outputs[0].data + r * out_inner + col, in.data + r * inner, static_cast<size_t>(inner) * sizeof(float));
    col += inner;
  }
}

void split(const KernelArgs& a) {
  const int64_t axis = attrs_as<fb::SplitAttrsT>(*a.node).axis;
  const auto [outer, in_inner] = outer_inner(*a.inputs[0].shape, axis);
  int64_t col = 0;
  for (const OutputView& out : a.outputs) {
    const auto [o, inner] = outer_inner(*out.shape, axis);
    for (int64_t r = 0; r < outer; ++r)
      std::memcpy(out.data + r * inner, a.inputs[0].data + r * in_inner + col, static_cast<size_t>(inner) * sizeof(float));
    col += inner;
  }
}

void slice(const KernelArgs& a) {
  const Shape& xs = *a.inputs[0].shape;
  const SliceRanges ranges = slice_ranges(xs, attrs_as<fb::SliceAttrsT>(*a.node), a.node->name);
  const Dims in_strides = row_major_strides(xs);
  int64_t base = 0;
  Dims step_strides(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) {
    base += ranges[d].start * in_strides[d];
    // An axis that yields at most one element never steps: skipping the
    // product keeps huge steps (e.g. INT64_MAX) from overflowing.
    step_strides[d] = ranges[d].count > 1 ? ranges[d].step * in_strides[d] : 0;
  }
  const std::array<Dims, 1> strides = {step_strides};
  const float* x = a.inputs[0].data + (element_count(*a.outputs[0].shape) > 0 ? base : 0);
  float* y = a.outputs[0].data;
  int64_t i = 0;
  for_each_index(*a.outputs[0].shape, strides, [&](int64_t src) { y[i++] = x[src]; });
}

void pad(const KernelArgs& a) {
  const auto& attrs = attrs_as<fb::PadAttrsT>(*a.node);
  const Shape& xs = *a.inputs[0].shape;
  const Shape& ys = *a.outputs[0].shape;
  const size_t rank = xs.size();
  const Dims in_strides = row_major_strides(xs);
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  const int64_t total = element_count(ys);
  Dims idx(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    // Output index o reads input index o - pad_begin (negative pads crop).
    int64_t src = 0;
    bool inside = true;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t s = idx[d] - attrs.pads[d];
      if (s < 0 || s >= xs[d]) {
        inside = false;
        break;
      }
      src += s * in_strides[d];
    }
    y[i] = inside ? x[src] : attrs.value;
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < ys[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace kiln::reference
