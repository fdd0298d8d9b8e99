#include "engine/core/shape_inference.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

namespace {
// y[dst view] = x[src view], element by element.
void copy_view(const float* x, const StridedView& src, float* y, const StridedView& dst) {
  for_each_offset<2>({&src, &dst}, [&](int64_t s, int64_t d) { y[d] = x[s]; });
}

// The quantized form: each element requantized from x's parameters to y's.
void copy_view(const InputView& x, const StridedView& src, const OutputView& y, const StridedView& dst) {
  const QIn in = qin(x);
  const QOut out = qout(y);
  const Requantization r = requantization(*x.tensor, *y.tensor);
  for_each_offset<2>({&src, &dst}, [&](int64_t s, int64_t d) {
    out.set(d, quant::requantize(in[s] - r.from_zero_point, r.multiplier, r.to_zero_point, r.clamp.lo, r.clamp.hi));
  });
}

// The float or the quantized copy, by the tensors' dtypes.
void copy_view(const KernelArgs& a, const InputView& x, const StridedView& src, const OutputView& y,
               const StridedView& dst) {
  if (is_quantized(a))
    copy_view(x, src, y, dst);
  else
    copy_view(x.data, src, y.data, dst);
}

int normalized_axis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}
}  // namespace

void transpose(const KernelArgs& a) {
  const Shape& ys = *a.outputs[0].shape;
  copy_view(a, a.inputs[0], transpose_view(*a.inputs[0].shape, attrs_as<fb::TransposeAttrsT>(*a.node).perm),
            a.outputs[0], contiguous_view(ys));
}

void concat(const KernelArgs& a) {
  const Shape& ys = *a.outputs[0].shape;
  const int axis = normalized_axis(attrs_as<fb::ConcatAttrsT>(*a.node).axis, ys.size());
  int64_t start = 0;
  for (const InputView& in : a.inputs) {
    copy_view(a, in, contiguous_view(*in.shape), a.outputs[0], slab_view(ys, *in.shape, axis, start));
    start += (*in.shape)[static_cast<size_t>(axis)];
  }
}

void split(const KernelArgs& a) {
  const Shape& xs = *a.inputs[0].shape;
  const int axis = normalized_axis(attrs_as<fb::SplitAttrsT>(*a.node).axis, xs.size());
  int64_t start = 0;
  for (const OutputView& out : a.outputs) {
    copy_view(a, a.inputs[0], slab_view(xs, *out.shape, axis, start), out, contiguous_view(*out.shape));
    start += (*out.shape)[static_cast<size_t>(axis)];
  }
}

void slice(const KernelArgs& a) {
  const Shape& xs = *a.inputs[0].shape;
  const SliceRanges ranges = slice_ranges(xs, attrs_as<fb::SliceAttrsT>(*a.node), a.node->name);
  copy_view(a, a.inputs[0], slice_view(xs, ranges), a.outputs[0], contiguous_view(*a.outputs[0].shape));
}

// Output index o reads input index o - pad_begin (negative pads crop).
void pad(const KernelArgs& a) {
  const auto& attrs = attrs_as<fb::PadAttrsT>(*a.node);
  const PadView p = pad_view(*a.inputs[0].shape, *a.outputs[0].shape, attrs.pads);
  const StridedView& v = p.source;
  const int64_t total = v.count();
  // Quantized: x requantized to y's parameters, the pad value quantized with them.
  const bool q = is_quantized(a);
  const QIn qx = q ? qin(a.inputs[0]) : QIn{};
  const QOut qy = q ? qout(a.outputs[0]) : QOut{};
  const Requantization r = q ? requantization(*a.inputs[0].tensor, *a.outputs[0].tensor) : Requantization{};
  const int32_t qvalue = q ? quant::quantize(attrs.value, a.outputs[0].tensor->quant->scale[0], r.to_zero_point,
                                             r.clamp.lo, r.clamp.hi)
                           : 0;
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  int64_t idx[kMaxRank] = {};
  int64_t src = v.offset;
  for (int64_t i = 0; i < total; ++i) {
    bool inside = true;
    for (int d = 0; d < v.rank && inside; ++d) inside = idx[d] >= p.begin[d] && idx[d] - p.begin[d] < p.in_shape[d];
    if (!q)
      y[i] = inside ? x[src] : attrs.value;
    else
      qy.set(i, inside ? quant::requantize(qx[src] - r.from_zero_point, r.multiplier, r.to_zero_point, r.clamp.lo,
                                           r.clamp.hi)
                       : qvalue);
    for (int d = v.rank; d-- > 0;) {
      src += v.strides[d];
      if (++idx[d] < v.shape[d]) break;
      src -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace kiln::reference
