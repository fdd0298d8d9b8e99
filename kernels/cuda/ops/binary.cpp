// Add/Sub/Mul/Div with numpy broadcasting (ops/binary.cu).
#include "engine/core/op_info.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

void lower_binary(Lowering& l, int i) {
  const Node& node = l.node(i);
  const BinaryOp op = binary_op_of(node.op);
  const Act act = to_act(attrs_as<fb::BinaryAttrsT>(node).activation);
  const TensorId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  const Shape& ys = l.shape(y);
  const StridedView va = broadcast_view(l.shape(a), ys), vb = broadcast_view(l.shape(b), ys);
  l.add_node_step(i, [=, &l](cudaStream_t s) { launch_binary(op, l.ptr(a), va, l.ptr(b), vb, l.ptr(y), act, s); });
}

}  // namespace kiln::cuda
