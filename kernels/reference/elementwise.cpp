#include <cmath>

#include "engine/core/activation.hpp"
#include "engine/core/shape_inference.hpp"
#include "kernels/reference/indexing.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

namespace {
// A standalone activation node expressed as the epilogue it would become.
fb::FusedActivation activation_of(const Node& node) {
  using K = fb::ActivationKind;
  switch (node.op) {
    case OpType::Relu: return {K::Relu, 0, 0};
    case OpType::Clip: {
      const auto& c = attrs_as<fb::ClipAttrsT>(node);
      return {K::Clip, c.min, c.max};
    }
    case OpType::LeakyRelu: return {K::LeakyRelu, attrs_as<fb::LeakyReluAttrsT>(node).alpha, 0};
    case OpType::Sigmoid: return {K::Sigmoid, 0, 0};
    case OpType::HardSigmoid: {
      const auto& h = attrs_as<fb::HardSigmoidAttrsT>(node);
      return {K::HardSigmoid, h.alpha, h.beta};
    }
    case OpType::HardSwish: return {K::HardSwish, 0, 0};
    case OpType::Tanh: return {K::Tanh, 0, 0};
    default: throw Error(ErrorCode::Internal, "not an activation: " + node.name);
  }
}
}  // namespace

void unary_activation(const KernelArgs& a) {
  const fb::FusedActivation act = activation_of(*a.node);
  const int64_t n = element_count(*a.inputs[0].shape);
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  for (int64_t i = 0; i < n; ++i) y[i] = apply_activation(act, x[i]);
}

void binary(const KernelArgs& a) {
  const Node& node = *a.node;
  const auto& act = attrs_as<fb::BinaryAttrsT>(node).activation;
  const Shape& out_shape = *a.outputs[0].shape;
  const float* x = a.inputs[0].data;
  const float* z = a.inputs[1].data;
  float* y = a.outputs[0].data;
  const Dims out_dims(out_shape);
  const std::array<Dims, 3> strides = {broadcast_strides(*a.inputs[0].shape, out_dims),
                                       broadcast_strides(*a.inputs[1].shape, out_dims), row_major_strides(out_dims)};
  auto op = [&](float p, float q) {
    switch (node.op) {
      case OpType::Add: return p + q;
      case OpType::Sub: return p - q;
      case OpType::Mul: return p * q;
      default: return p / q;
    }
  };
  for_each_index(out_dims, strides, [&](int64_t ix, int64_t iz, int64_t iy) {
    y[iy] = apply_activation(act, op(x[ix], z[iz]));
  });
}

}  // namespace kiln::reference
