// Transpose, Slice, Concat and Split as strided copies between views of
// engine/core/strided_view.hpp; Pad through a bounded view (ops/data_movement.cu).
#include <tuple>

#include "engine/core/shape_inference.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

namespace {
int normalize_axis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

// Copies `src` of tensor `in` into `dst` of tensor `out`, for each (src, in, dst, out).
using Copy = std::tuple<StridedView, TensorId, StridedView, TensorId>;
void add_copies(Lowering& l, int i, std::vector<Copy> copies) {
  l.add_node_step(i, [copies = std::move(copies), &l](cudaStream_t s) {
    for (const auto& [src, in, dst, out] : copies) launch_strided_copy(l.ptr(in), src, l.ptr(out), dst, s);
  });
}
}  // namespace

void lower_data_movement(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = l.shape(x);
  const Shape& ys = l.shape(y);
  switch (node.op) {
    case OpType::Transpose:
      return add_copies(l, i,
                        {{transpose_view(xs, attrs_as<fb::TransposeAttrsT>(node).perm), x, contiguous_view(ys), y}});
    case OpType::Slice:
      return add_copies(
          l, i,
          {{slice_view(xs, slice_ranges(xs, attrs_as<fb::SliceAttrsT>(node), node.name)), x, contiguous_view(ys), y}});
    case OpType::Concat: {
      const int axis = normalize_axis(attrs_as<fb::ConcatAttrsT>(node).axis, ys.size());
      std::vector<Copy> copies;
      int64_t start = 0;
      for (TensorId t : node.inputs) {
        copies.emplace_back(contiguous_view(l.shape(t)), t, slab_view(ys, l.shape(t), axis, start), y);
        start += l.shape(t)[static_cast<size_t>(axis)];
      }
      return add_copies(l, i, std::move(copies));
    }
    case OpType::Split: {
      const int axis = normalize_axis(attrs_as<fb::SplitAttrsT>(node).axis, xs.size());
      std::vector<Copy> copies;
      int64_t start = 0;
      for (TensorId t : node.outputs) {
        copies.emplace_back(slab_view(xs, l.shape(t), axis, start), x, contiguous_view(l.shape(t)), t);
        start += l.shape(t)[static_cast<size_t>(axis)];
      }
      return add_copies(l, i, std::move(copies));
    }
    case OpType::Pad: {
      const auto& a = attrs_as<fb::PadAttrsT>(node);
      const PadView v = pad_view(xs, ys, a.pads);
      const float value = a.value;
      l.add_node_step(i, [=, &l](cudaStream_t s) { launch_pad(l.ptr(x), v, l.ptr(y), value, s); });
      return;
    }
    default:
      throw Error(ErrorCode::Internal,
                  "cuda backend: " + std::string(fb::EnumNameOpType(node.op)) + " is not data movement");
  }
}

}  // namespace kiln::cuda
