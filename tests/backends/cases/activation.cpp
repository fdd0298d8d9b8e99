// Activations as nodes of their own (fused ones ride on conv, binary and
// gemm cases), on ranges that reach every piece of each function; and a chain
// of them that a backend may run in place.
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> activation_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  const Shape img{1, 5, 7, 9};
  v.push_back({"Relu", [img] { return unary_graph(O::Relu, no_attrs(), img); }, -4, 4});
  v.push_back({"Clip", [img] { return unary_graph(O::Clip, clip_attrs(-0.3f, 0.7f), img); }, -4, 4});
  v.push_back({"LeakyRelu", [img] { return unary_graph(O::LeakyRelu, leaky_relu_attrs(0.15f), img); }, -4, 4});
  v.push_back({"Sigmoid", [img] { return unary_graph(O::Sigmoid, no_attrs(), img); }, -6, 6});
  v.push_back({"HardSigmoid", [img] { return unary_graph(O::HardSigmoid, hard_sigmoid_attrs(0.2f, 0.5f), img); }, -4, 4});
  v.push_back({"HardSwish", [img] { return unary_graph(O::HardSwish, no_attrs(), img); }, -5, 5});
  v.push_back({"Tanh", [img] { return unary_graph(O::Tanh, no_attrs(), img); }, -3, 3});

  // Other attributes, over [-8, 8] where every function saturates.
  const std::vector<std::pair<O, fb::AttributesUnion>> wide = {
      {O::Relu, no_attrs()},
      {O::Clip, make_attrs(clip_attrs(-0.5f, 0.75f))},
      {O::LeakyRelu, make_attrs(leaky_relu_attrs(0.2f))},
      {O::Sigmoid, no_attrs()},
      {O::HardSigmoid, make_attrs(hard_sigmoid_attrs(0.3f, 0.4f))},
      {O::HardSwish, no_attrs()},
      {O::Tanh, no_attrs()}};
  for (const auto& [op, attrs] : wide)
    v.push_back({fmt::format("{}_2x7x5x3_range8", op_name(op)),
                 [op, attrs] { return unary_graph(op, attrs, {2, 7, 5, 3}); }, -8, 8});

  // Each activation reads the previous one's output, which a backend may overwrite in place.
  v.push_back({"Activation_chain_in_place", [] {
                 GraphBuilder b;
                 TensorId t = b.input("x", {2, 3, 5, 7});
                 t = b.node(O::Tanh, {b.node(O::Sigmoid, {t})});
                 t = b.node(O::LeakyRelu, {t}, leaky_relu_attrs(0.3f));
                 t = b.node(O::HardSwish, {t});
                 t = b.node(O::HardSigmoid, {t}, hard_sigmoid_attrs(0.7f, 0.1f));
                 t = b.node(O::Clip, {t}, clip_attrs(0.2f, 0.6f));
                 const TensorId u = b.node(O::Relu, {b.node(O::Tanh, {b.input("y", {2, 3, 5, 7})})});
                 b.output(b.node(O::Add, {t, u}));
                 return b.build();
               },
               -8, 8});
  return v;
}

}  // namespace kiln::test
