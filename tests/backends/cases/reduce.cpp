// ReduceMean over leading, inner, spatial and all axes, with and without keepdims.
#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> reduce_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  v.push_back({"ReduceMean_spatial_keepdims", [] { return unary_graph(O::ReduceMean, reduce_attrs({2, 3}, true), {2, 5, 4, 3}); }});
  v.push_back({"ReduceMean_channels", [] { return unary_graph(O::ReduceMean, reduce_attrs({1}, false), {2, 5, 4, 3}); }});
  v.push_back({"ReduceMean_four_axis_sets", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({1}, true)));
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({0, 2}, false)));
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({2, 3}, true)));
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({}, false)));
                 return b.build();
               },
               -5, 5});
  v.push_back({"ReduceMean_axes_1_3_keepdims_and_all", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({1, 3}, true)));
                 b.output(b.node(O::ReduceMean, {x}, reduce_attrs({}, false)));
                 return b.build();
               },
               -4, 4});
  return v;
}

}  // namespace kiln::test
