// BatchNormalization on its own (no conv before it to fold into), at ranks 2
// to 4, with constant statistics and with statistics computed at run time.
#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> batchnorm_cases() {
  using O = OpType;
  std::vector<OpCase> v;
  v.push_back({"BatchNormalization", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 6, 5, 4});
                 b.output(b.node(O::BatchNormalization,
                                 {x, b.random_constant("g", {6}, 1, 0.5f, 1.5f), b.random_constant("be", {6}, 2),
                                  b.random_constant("m", {6}, 3), b.random_constant("v", {6}, 4, 0.5f, 1.5f)},
                                 batchnorm_attrs(1e-5f)));
                 return b.build();
               }});
  for (const Shape& s : std::vector<Shape>{{2, 5, 4, 3}, {1, 7}, {3, 4, 6}})
    v.push_back({"BatchNormalization_" + dims_name(s), [s] {
                   GraphBuilder b;
                   const TensorId x = b.input("x", s);
                   const int64_t c = s[1];
                   b.output(b.node(O::BatchNormalization,
                                   {x, b.random_constant("g", {c}, 1), b.random_constant("b", {c}, 2),
                                    b.random_constant("m", {c}, 3), b.random_constant("v", {c}, 4, 0.5f, 2.0f)},
                                   batchnorm_attrs(1e-3f)));
                   return b.build();
                 }});
  // Nothing to fold at load time: the variance is Relu(input) + 1.
  v.push_back({"BatchNormalization_statistics_from_inputs", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 5, 4, 3});
                 const TensorId var = b.node(O::Relu, {b.input("var", {5})});
                 const TensorId var1 = b.node(O::Add, {var, b.constant("one", {1}, {1.0f})}, binary_attrs());
                 b.output(b.node(O::BatchNormalization,
                                 {x, b.input("s", {5}), b.input("b", {5}), b.input("m", {5}), var1},
                                 batchnorm_attrs(1e-5f)));
                 return b.build();
               }});
  return v;
}

}  // namespace kiln::test
