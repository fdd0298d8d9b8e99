// Transpose (to NHWC, shuffles, rank 6), Concat and Split on every axis
// (inputs, computed tensors and constants mixed), Slice with steps, negative
// indices, clamped and empty ranges, Pad with asymmetric and negative pads.
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> data_movement_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  v.push_back({"Transpose_to_nhwc", [] { return unary_graph(O::Transpose, transpose_attrs({0, 2, 3, 1}), {2, 5, 3, 4}); }});
  v.push_back({"Transpose_shuffle", [] { return unary_graph(O::Transpose, transpose_attrs({3, 1, 0, 2}), {2, 5, 3, 4}); }});
  for (int axis : {1, 2, 3})
    v.push_back({fmt::format("Concat_axis{}", axis), [axis] {
                   GraphBuilder b;
                   Shape a{1, 3, 4, 5}, c{1, 3, 4, 5}, d{1, 3, 4, 5};
                   c[static_cast<size_t>(axis)] = 2;
                   d[static_cast<size_t>(axis)] = 7;
                   b.output(b.node(O::Concat, {b.input("a", a), b.input("c", c), b.input("d", d)}, concat_attrs(axis)));
                   return b.build();
                 }});
  v.push_back({"Split_channels", [] {
                 GraphBuilder b;
                 const auto parts = b.node_n(O::Split, {b.input("x", {1, 6, 4, 5})}, make_attrs(split_attrs(1, {2, 3, 1})), 3);
                 for (TensorId t : parts) b.output(t);
                 return b.build();
               }});
  v.push_back({"Slice_steps_and_negative", [] {
                 return unary_graph(O::Slice, slice_attrs({1, 9, 0}, {5, 0, 7}, {1, 2, 3}, {2, -2, 3}), {1, 6, 10, 8});
               }});
  v.push_back({"Pad_constant_asym", [] { return unary_graph(O::Pad, pad_attrs({0, 0, 1, 2, 0, 1, 3, 0}, 0.5f), {1, 3, 4, 5}); }});

  // Concat of an input, a computed tensor, a constant and the input again,
  // then a Split of the result into uneven parts.
  for (int32_t axis : {0, 1, 2, 3})
    v.push_back({fmt::format("Concat_then_Split_axis{}", axis), [axis] {
                   GraphBuilder b;
                   const Shape s{2, 3, 4, 5};
                   const TensorId x = b.input("x", s);
                   const TensorId y = b.node(O::Relu, {b.input("y", s)});
                   const TensorId k = b.random_constant("k", s, 3);
                   const TensorId cat = b.node(O::Concat, {x, y, k, x}, concat_attrs(axis));
                   const int64_t total = s[static_cast<size_t>(axis)] * 4;
                   for (TensorId p : b.node_n(O::Split, {cat}, make_attrs(split_attrs(axis, {1, total - 3, 2})), 3))
                     b.output(p);
                   return b.build();
                 }});
  v.push_back({"Transpose_Slice_empty_Slice_Pad_negative", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {3, 4, 5, 6});
                 b.output(b.node(O::Transpose, {x}, transpose_attrs({2, 0, 3, 1})));
                 b.output(b.node(O::Slice, {x}, slice_attrs({2, -1, 1}, {0, 0, 6}, {0, 2, 3}, {-1, -2, 2})));
                 b.output(b.node(O::Slice, {x}, slice_attrs({1}, {1}, {1}, {1})));  // empty
                 b.output(b.node(O::Pad, {x}, pad_attrs({1, 0, 2, -1, 0, 2, -1, 3}, 0.25f)));
                 return b.build();
               }});
  v.push_back({"Transpose_rank6", [] {
                 return unary_graph(O::Transpose, transpose_attrs({5, 3, 0, 4, 1, 2}), {2, 1, 3, 2, 4, 3});
               }});
  v.push_back({"Transpose_to_nhwc_and_shuffle_2x3x4x5", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 b.output(b.node(O::Transpose, {x}, transpose_attrs({0, 2, 3, 1})));
                 b.output(b.node(O::Transpose, {x}, transpose_attrs({3, 1, 0, 2})));
                 return b.build();
               }});
  v.push_back({"Concat_axis1_and_3_Split_channels", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 3, 4, 5});
                 const TensorId y = b.input("y", {2, 6, 4, 5});
                 b.output(b.node(O::Concat, {x, y, x}, concat_attrs(1)));
                 b.output(b.node(O::Concat, {x, x}, concat_attrs(3)));
                 for (TensorId p : b.node_n(O::Split, {y}, make_attrs(split_attrs(1, {1, 2, 3})), 3)) b.output(p);
                 return b.build();
               }});
  v.push_back({"Slice_clamped_and_Pad_negative", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {3, 8, 9, 10});
                 b.output(b.node(O::Slice, {x}, slice_attrs({1, -2, 8}, {3, 0, 1}, {1, 2, 3}, {1, -3, -2})));
                 b.output(b.node(O::Slice, {x}, slice_attrs({0}, {100}, {3}, {4})));
                 b.output(b.node(O::Pad, {x}, pad_attrs({0, 1, 2, -1, 0, 2, -3, 1}, 0.5f)));
                 return b.build();
               }});
  return v;
}

}  // namespace kiln::test
