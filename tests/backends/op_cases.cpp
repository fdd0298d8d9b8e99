#include "tests/backends/op_cases.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::test {

std::vector<OpCase> cases_of(OpFamily family) {
  using F = OpFamily;
  switch (family) {
    case F::Conv: return conv_cases();
    case F::Pool: return pool_cases();
    case F::Activation: return activation_cases();
    case F::Binary: return binary_cases();
    case F::BatchNorm: return batchnorm_cases();
    case F::Softmax: return softmax_cases();
    case F::MatMul: return matmul_cases();
    case F::Reduce: return reduce_cases();
    case F::Shape: return shape_cases();
    case F::DataMovement: return data_movement_cases();
    case F::Quantize: return quantize_cases();
  }
  return {};  // unreachable; -Wswitch flags a new family without a list
}

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> v;
  for (size_t f = 0; f < kOpFamilyCount; ++f)
    for (OpCase& c : cases_of(static_cast<OpFamily>(f))) v.push_back(std::move(c));
  for (OpCase& c : block_cases()) v.push_back(std::move(c));
  return v;
}

std::string dims_name(const std::vector<int64_t>& v) { return fmt::format("{}", fmt::join(v, "x")); }
std::string dims_name(const std::vector<int32_t>& v) { return fmt::format("{}", fmt::join(v, "x")); }

Graph unary_graph(OpType op, fb::AttributesUnion attrs, Shape shape) {
  GraphBuilder b;
  const TensorId x = b.input("x", shape);
  b.output(b.node(op, {x}, std::move(attrs)));
  return b.build();
}

Graph binary_graph(OpType op, Shape a, Shape b_shape, bool const_a, bool const_b, fb::FusedActivation activation,
                   float lo, float hi) {
  GraphBuilder b;
  const TensorId x = const_a ? b.random_constant("a", a, 7, lo, hi) : b.input("a", a);
  const TensorId y = const_b ? b.random_constant("b", b_shape, 8, lo, hi) : b.input("b", b_shape);
  b.output(b.node(op, {x, y}, binary_attrs(activation)));
  return b.build();
}

TensorId add_conv(GraphBuilder& b, TensorId x, const ConvSpec& s, uint32_t seed) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(s.cin / s.group * s.kh * s.kw));
  const TensorId w = b.random_constant(numbered("w", seed), {s.cout, s.cin / s.group, s.kh, s.kw}, seed, -bound, bound);
  std::vector<TensorId> in{x, w};
  if (s.bias) in.push_back(b.random_constant(numbered("bias", seed), {s.cout}, seed + 1));
  return b.node(OpType::Conv, in,
                conv_attrs({s.kh, s.kw}, {s.sh, s.sw}, s.pads, {s.dh, s.dw}, s.group, s.activation));
}

}  // namespace kiln::test
