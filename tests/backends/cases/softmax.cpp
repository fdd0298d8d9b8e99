// Softmax over one axis (the ONNX-13 rule) and over every axis from `axis`
// on (over_trailing_axes, the ONNX-11 rule), on logits-sized rows and on
// small tensors at every axis position.
#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> softmax_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  v.push_back({"Softmax_logits", [] { return unary_graph(O::Softmax, softmax_attrs(1), {2, 1000}); }, -8, 8});
  v.push_back({"Softmax_inner_axis", [] { return unary_graph(O::Softmax, softmax_attrs(3), {1, 3, 4, 5}); }, -4, 4});
  v.push_back({"Softmax_trailing_axes", [] { return unary_graph(O::Softmax, softmax_attrs(1, true), {2, 3, 4}); }});
  v.push_back({"Softmax_axes_0_1_3_one_and_trailing", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 for (int32_t axis : {0, 1, 3}) {
                   b.output(b.node(O::Softmax, {x}, softmax_attrs(axis, false)));
                   b.output(b.node(O::Softmax, {x}, softmax_attrs(axis, true)));
                 }
                 return b.build();
               },
               -5, 5});
  v.push_back({"Softmax_axis1_and_trailing_from_axis2", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 b.output(b.node(O::Softmax, {x}, softmax_attrs(1)));
                 b.output(b.node(O::Softmax, {x}, softmax_attrs(2, true)));
                 return b.build();
               },
               -4, 4});
  return v;
}

}  // namespace kiln::test
