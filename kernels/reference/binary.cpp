#include "engine/core/activation.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

// numpy broadcasting: each operand is read through a view of the output's shape.
void binary(const KernelArgs& a) {
  const Node& node = *a.node;
  const auto& act = attrs_as<fb::BinaryAttrsT>(node).activation;
  const Shape& out_shape = *a.outputs[0].shape;
  const float* x = a.inputs[0].data;
  const float* z = a.inputs[1].data;
  float* y = a.outputs[0].data;
  const StridedView vx = broadcast_view(*a.inputs[0].shape, out_shape);
  const StridedView vz = broadcast_view(*a.inputs[1].shape, out_shape);
  const StridedView vy = contiguous_view(out_shape);
  auto op = [&](float p, float q) {
    switch (node.op) {
      case OpType::Add:
        return p + q;
      case OpType::Sub:
        return p - q;
      case OpType::Mul:
        return p * q;
      default:
        return p / q;
    }
  };
  for_each_offset<3>({&vx, &vz, &vy},
                     [&](int64_t ix, int64_t iz, int64_t iy) { y[iy] = apply_activation(act, op(x[ix], z[iz])); });
}

}  // namespace kiln::reference
