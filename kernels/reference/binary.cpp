#include "engine/core/activation.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

// numpy broadcasting: each operand is read through a view of the output's shape.
void binary(const KernelArgs& a) {
  if (is_quantized(a)) return add_quantized(a);
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
  // The operation itself is one correctly rounded float operation in either
  // precision; a fused activation sees that float, as it would unfused.
  if (a.in_double())
    for_each_offset<3>({&vx, &vz, &vy}, [&](int64_t ix, int64_t iz, int64_t iy) {
      y[iy] = static_cast<float>(apply_activation(act, double{op(x[ix], z[iz])}));
    });
  else
    for_each_offset<3>({&vx, &vz, &vy},
                       [&](int64_t ix, int64_t iz, int64_t iy) { y[iy] = apply_activation(act, op(x[ix], z[iz])); });
}

// Quantized Add (same shapes; engine/core/quantized_ops.hpp).
void add_quantized(const KernelArgs& a) {
  const QuantizedAdd q = quantized_add(*a.inputs[0].tensor, *a.inputs[1].tensor, *a.outputs[0].tensor,
                                       attrs_as<fb::BinaryAttrsT>(*a.node).activation);
  const QIn x = qin(a.inputs[0]), z = qin(a.inputs[1]);
  const QOut y = qout(a.outputs[0]);
  const int64_t n = element_count(*a.outputs[0].shape);
  for (int64_t i = 0; i < n; ++i) y.set(i, quant::add(x[i], q.za, q.ma, z[i], q.zb, q.mb, q.zy, q.clamp.lo, q.clamp.hi));
}

}  // namespace kiln::reference
