// Add/Sub/Mul/Div with numpy broadcasting: binary.comp reads each operand
// through a broadcast view of the output's index space.
#include "engine/core/op_info.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

static_assert(static_cast<int>(BinaryOp::Add) == BINARY_ADD && static_cast<int>(BinaryOp::Sub) == BINARY_SUB &&
                  static_cast<int>(BinaryOp::Mul) == BINARY_MUL && static_cast<int>(BinaryOp::Div) == BINARY_DIV,
              "binary.comp numbers the ops as engine/core/binary_op.hpp does");

void lower_binary(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  const TensorId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  const Shape& ys = l.shape(y);
  const int64_t count = element_count(ys);
  const fb::FusedActivation act = attrs_as<fb::BinaryAttrsT>(node).activation;
  const StridedView va = broadcast_view(l.shape(a), ys), vb = broadcast_view(l.shape(b), ys);
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_BINARY_OP, static_cast<int>(binary_op_of(node.op)));
  s.i(SPEC_BINARY_ACT_KIND, static_cast<int>(act.kind()))
      .f(SPEC_BINARY_ACT_ALPHA, act.alpha())
      .f(SPEC_BINARY_ACT_BETA, act.beta());
  s.axes(SPEC_BINARY_DIMS, right_aligned({va.shape, static_cast<size_t>(va.rank)}, 1));
  s.axes(SPEC_BINARY_A_STRIDES, right_aligned({va.strides, static_cast<size_t>(va.rank)}, 0));
  s.axes(SPEC_BINARY_B_STRIDES, right_aligned({vb.strides, static_cast<size_t>(vb.rank)}, 0));
  if (count > 0) l.add_step(i, Shader::Binary, std::move(s), {y, a, b}, groups_1d(count));
  l.set_detail(i, "binary (broadcast)");
}

}  // namespace kiln::vk
