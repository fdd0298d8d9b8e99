// Gemm with every transpose combination, alpha/beta, a bias C of each
// broadcastable shape and a fused activation, a classifier-sized one; MatMul
// with 1-D operands, batches and broadcast batch dimensions.
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

Graph matmul_graph(const Shape& a, const Shape& b_shape) {
  GraphBuilder b;
  b.output(b.node(O::MatMul, {b.input("a", a), b.input("b", b_shape)}));
  return b.build();
}

}  // namespace

std::vector<OpCase> matmul_cases() {
  std::vector<OpCase> v;
  v.push_back({"Gemm_transB_bias_alpha_beta", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {3, 37});
                 const TensorId w = b.random_constant("w", {19, 37}, 5);
                 const TensorId c = b.random_constant("c", {19}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(0.7f, 1.3f, false, true)));
                 return b.build();
               }});
  v.push_back({"Gemm_transA_matrix_bias", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {13, 4});
                 const TensorId w = b.random_constant("w", {13, 21}, 5);
                 const TensorId c = b.random_constant("c", {4, 21}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(1.0f, 0.5f, true, false, act(K::Relu))));
                 return b.build();
               }});
  v.push_back({"Gemm_classifier_1280to1000", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 1280});
                 const TensorId w = b.random_constant("w", {1000, 1280}, 5, -0.05f, 0.05f);
                 const TensorId c = b.random_constant("c", {1000}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(1.0f, 1.0f, false, true)));
                 return b.build();
               }});
  v.push_back({"MatMul_batched_by_matrix", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 5, 7});
                 const TensorId w = b.random_constant("w", {7, 9}, 5);
                 b.output(b.node(O::MatMul, {x, w}));
                 return b.build();
               }});
  v.push_back({"MatMul_two_inputs", [] { return matmul_graph({6, 11}, {11, 3}); }});

  // 3x37 by 37x11 with alpha 0.7, beta 1.3: each transpose combination with
  // no C, C of [N], [M, 1] (Relu fused) and [M, N].
  const char* c_names[] = {"no_c", "c_row", "c_column_relu", "c_matrix"};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int c_kind = 0; c_kind < 4; ++c_kind)
        v.push_back({fmt::format("Gemm_3x37x11_transA{}_transB{}_{}", int{ta}, int{tb}, c_names[c_kind]),
                     [ta, tb, c_kind] {
                       GraphBuilder b;
                       const int64_t M = 3, D = 37, N = 11;  // D: the reduced dimension
                       const TensorId a = b.input("a", ta ? Shape{D, M} : Shape{M, D});
                       const TensorId w = b.random_constant("w", tb ? Shape{N, D} : Shape{D, N}, 2);
                       std::vector<TensorId> ins = {a, w};
                       if (c_kind == 1) ins.push_back(b.random_constant("c", {N}, 3));
                       if (c_kind == 2) ins.push_back(b.random_constant("c", {M, 1}, 3));
                       if (c_kind == 3) ins.push_back(b.random_constant("c", {M, N}, 3));
                       b.output(b.node(O::Gemm, ins,
                                       gemm_attrs(0.7f, 1.3f, ta, tb, act(c_kind == 2 ? K::Relu : K::None))));
                       return b.build();
                     }});
  // 5x37 by 37x11, alpha 0.5, beta 2, Clip(-1, 1) fused.
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      v.push_back({fmt::format("Gemm_5x37x11_transA{}_transB{}_clip", int{ta}, int{tb}), [ta, tb] {
                     GraphBuilder b;
                     const TensorId a = b.input("a", ta ? Shape{37, 5} : Shape{5, 37});
                     const TensorId w = b.random_constant("w", tb ? Shape{11, 37} : Shape{37, 11}, 3);
                     const TensorId c = b.random_constant("c", {11}, 4);
                     b.output(b.node(O::Gemm, {a, w, c}, gemm_attrs(0.5f, 2.0f, ta, tb, act(K::Clip, -1.0f, 1.0f))));
                     return b.build();
                   }});
  v.push_back({"Gemm_c_broadcast_along_rows_and_scalar", [] {
                 GraphBuilder b;
                 const TensorId a = b.input("a", {3, 4, 5});
                 b.output(b.node(O::Gemm,
                                 {b.node(O::Flatten, {a}, flatten_attrs(1)), b.random_constant("w", {20, 6}, 9),
                                  b.random_constant("c3", {3, 1}, 4)},
                                 gemm_attrs(1.0f, 1.0f)));
                 b.output(b.node(O::Gemm,
                                 {b.input("m", {4, 20}), b.random_constant("w2", {20, 4}, 10), b.random_constant("c1", {1}, 5)},
                                 gemm_attrs(1.0f, 0.5f)));
                 return b.build();
               }});
  const std::vector<std::pair<Shape, Shape>> matmuls = {
      {{5, 7}, {7, 3}},          {{2, 5, 7}, {7, 3}},          {{7}, {7, 4}},    {{3, 7}, {7}},
      {{2, 1, 4, 6}, {3, 6, 5}}, {{1, 2, 3}, {4, 1, 3, 2}},    {{2, 1, 5, 7}, {3, 7, 4}},
      {{7}, {7, 3}},             {{4, 7}, {7}}};
  for (const auto& [sa, sb] : matmuls)
    v.push_back({fmt::format("MatMul_{}_by_{}", dims_name(sa), dims_name(sb)), [sa, sb] { return matmul_graph(sa, sb); }});
  return v;
}

}  // namespace kiln::test
