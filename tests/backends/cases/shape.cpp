// Ops that change only the shape (Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Dropout at inference): alone, after a computed tensor, chained,
// and on a constant.
#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> shape_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  v.push_back({"Flatten_axis1", [] { return unary_graph(O::Flatten, flatten_attrs(1), {2, 3, 4, 5}); }});
  v.push_back({"Reshape", [] { return unary_graph(O::Reshape, reshape_attrs({4, 6, 3}), {2, 3, 4, 3}); }});
  v.push_back({"Squeeze", [] { return unary_graph(O::Squeeze, axes_attrs({2, 3}), {1, 7, 1, 1}); }});
  v.push_back({"Unsqueeze", [] { return unary_graph(O::Unsqueeze, axes_attrs({0, 3}), {3, 4, 5}); }});
  v.push_back({"Identity", [] { return unary_graph(O::Identity, no_attrs(), {2, 3, 5}); }});
  v.push_back({"Dropout_inference", [] { return unary_graph(O::Dropout, no_attrs(), {1, 9}); }});
  v.push_back({"Reshape_Flatten_after_Sigmoid_Squeeze_of_Unsqueeze", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {3, 4, 5, 6});
                 b.output(b.node(O::Reshape, {x}, reshape_attrs({12, 30})));
                 b.output(b.node(O::Flatten, {b.node(O::Sigmoid, {x})}, flatten_attrs(2)));
                 b.output(b.node(O::Squeeze, {b.node(O::Unsqueeze, {x}, axes_attrs({0, 3}))}, axes_attrs({0})));
                 return b.build();
               }});
  v.push_back({"Reshape_of_a_constant_plus_input", [] {
                 GraphBuilder b;
                 const TensorId k = b.random_constant("k", {4, 6}, 9);
                 b.output(b.node(O::Add, {b.node(O::Reshape, {k}, reshape_attrs({2, 12})), b.input("y", {2, 12})}));
                 return b.build();
               }});
  v.push_back({"Reshape_after_Relu_Unsqueeze_of_Squeeze", [] {
                 GraphBuilder b;
                 b.output(b.node(O::Reshape, {b.node(O::Relu, {b.input("x", {2, 3, 4, 5})})}, reshape_attrs({6, 20})));
                 b.output(b.node(O::Unsqueeze, {b.node(O::Squeeze, {b.input("s", {1, 7, 1})}, axes_attrs({0, 2}))},
                                 axes_attrs({1})));
                 return b.build();
               },
               -4, 4});
  return v;
}

}  // namespace kiln::test
