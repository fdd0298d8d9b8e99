// Transpose, Slice, Concat (a copy per input) and Split (a copy per output)
// are strided copies (copy.comp) between views of engine/core/strided_view.hpp;
// Pad is pad.comp, reading its input through a bounded view.
#include <fmt/format.h>

#include "engine/core/shape_inference.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

namespace {
int normalize_axis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}
}  // namespace

void lower_data_movement(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = l.shape(x);
  const Shape& ys = l.shape(y);
  switch (node.op) {
    case OpType::Transpose:
      l.add_copy(i, transpose_view(xs, attrs_as<fb::TransposeAttrsT>(node).perm), x, contiguous_view(ys), y);
      l.set_detail(i, "strided copy");
      return;
    case OpType::Slice:
      l.add_copy(i, slice_view(xs, slice_ranges(xs, attrs_as<fb::SliceAttrsT>(node), node.name)), x,
                 contiguous_view(ys), y);
      l.set_detail(i, "strided copy");
      return;
    case OpType::Concat: {
      const int axis = normalize_axis(attrs_as<fb::ConcatAttrsT>(node).axis, ys.size());
      int64_t start = 0;
      for (TensorId t : node.inputs) {
        l.add_copy(i, contiguous_view(l.shape(t)), t, slab_view(ys, l.shape(t), axis, start), y);
        start += l.shape(t)[static_cast<size_t>(axis)];
      }
      l.set_detail(i, fmt::format("{} strided copies", node.inputs.size()));
      return;
    }
    case OpType::Split: {
      const int axis = normalize_axis(attrs_as<fb::SplitAttrsT>(node).axis, xs.size());
      int64_t start = 0;
      for (TensorId t : node.outputs) {
        l.add_copy(i, slab_view(xs, l.shape(t), axis, start), x, contiguous_view(l.shape(t)), t);
        start += l.shape(t)[static_cast<size_t>(axis)];
      }
      l.set_detail(i, fmt::format("{} strided copies", node.outputs.size()));
      return;
    }
    case OpType::Pad: {
      const auto& a = attrs_as<fb::PadAttrsT>(node);
      const PadView p = pad_view(xs, ys, a.pads);
      const size_t r = xs.size();
      const int64_t count = element_count(ys);
      Spec s;
      s.i(SPEC_COUNT, count).f(SPEC_PAD_VALUE, a.value);
      s.axes(SPEC_PAD_OUT_DIMS, right_aligned({p.source.shape, r}, 1));
      s.axes(SPEC_PAD_IN_DIMS, right_aligned({p.in_shape, r}, 1));
      s.axes(SPEC_PAD_BEGIN, right_aligned({p.begin, r}, 0));
      if (count > 0) l.add_step(i, Shader::Pad, std::move(s), {y, x}, groups_1d(count));
      l.set_detail(i, "pad");
      return;
    }
    default:
      throw Error(ErrorCode::Internal, "vulkan: " + std::string(fb::EnumNameOpType(node.op)) + " is not data movement");
  }
}

}  // namespace kiln::vk
