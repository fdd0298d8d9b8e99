// Reference Gemm (transposes, alpha and beta, every shape of C, fused
// activations) and MatMul (vectors, batches with broadcasting), each also
// random against naive.cpp.
#include <random>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

// A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]]: A*B = [[4,5],[10,11]]
const Tensor kA = make({2, 3}, {1, 2, 3, 4, 5, 6});
const Tensor kAt = make({3, 2}, {1, 4, 2, 5, 3, 6});
const Tensor kB = make({3, 2}, {1, 0, 0, 1, 1, 1});
const Tensor kBt = make({2, 3}, {1, 0, 1, 0, 1, 1});

TEST(GemmKernel, PlainProduct) {
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB}, gemm_attrs()), {2, 2}, {4, 5, 10, 11}));
}

TEST(GemmKernel, TransposesGiveTheSameProduct) {
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kAt, kB}, gemm_attrs(1, 1, true, false)), {2, 2}, {4, 5, 10, 11}));
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kBt}, gemm_attrs(1, 1, false, true)), {2, 2}, {4, 5, 10, 11}));
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kAt, kBt}, gemm_attrs(1, 1, true, true)), {2, 2}, {4, 5, 10, 11}));
}

TEST(GemmKernel, AlphaBetaAndTheShapesOfC) {
  // alpha 2, beta 0.5, C = [1, -2] per column: 2*AB + 0.5*C
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({2}, {1, -2})}, gemm_attrs(2, 0.5f)), {2, 2},
                         {8.5f, 9, 20.5f, 21}));
  // Scalar C (rank 0) and a [1,1] C broadcast everywhere: 2*AB + 0.5*4
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({}, {4})}, gemm_attrs(2, 0.5f)), {2, 2}, {10, 12, 22, 24}));
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({1, 1}, {4})}, gemm_attrs(2, 0.5f)), {2, 2}, {10, 12, 22, 24}));
  // Full matrix C.
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({2, 2}, {1, 2, 3, 4})}, gemm_attrs()), {2, 2},
                         {5, 7, 13, 15}));
  // Column C [M,1]: one value per row.
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({2, 1}, {10, 20})}, gemm_attrs()), {2, 2},
                         {14, 15, 30, 31}));
  // Row C [1,N].
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({1, 2}, {10, 20})}, gemm_attrs()), {2, 2},
                         {14, 25, 20, 31}));
  // beta 0 ignores C's values; alpha 0 leaves only beta*C.
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({2}, {100, 100})}, gemm_attrs(1, 0)), {2, 2}, {4, 5, 10, 11}));
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({2}, {3, 7})}, gemm_attrs(0, 2)), {2, 2}, {6, 14, 6, 14}));
}

TEST(GemmKernel, FusedActivation) {
  // AB - 10 = [[-6,-5],[0,1]]
  EXPECT_TRUE(values_are(run_node(O::Gemm, {kA, kB, make({}, {-10})}, gemm_attrs(1, 1, false, false, act(K::Relu))),
                         {2, 2}, {0, 0, 0, 1}));
  EXPECT_TRUE(values_are(
      run_node(O::Gemm, {kA, kB, make({}, {-10})}, gemm_attrs(1, 1, false, false, act(K::LeakyRelu, 0.5f))), {2, 2},
      {-3, -2.5f, 0, 1}));
}

TEST(GemmKernel, RandomAgainstNaive) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  const fb::FusedActivation acts[] = {act(K::None), act(K::Relu), act(K::Tanh), act(K::Clip, -1, 1), act(K::HardSwish)};
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t M = pick(1, 9), N = pick(1, 13), Kd = pick(1, 17);
    const bool ta = rng() % 2, tb = rng() % 2;
    const Tensor a = random_tensor(ta ? Shape{Kd, M} : Shape{M, Kd}, 10 + trial);
    const Tensor b = random_tensor(tb ? Shape{N, Kd} : Shape{Kd, N}, 20 + trial);
    const std::vector<Shape> c_shapes = {{}, {N}, {1, N}, {M, 1}, {M, N}, {1}, {1, 1}};
    const int c_kind = pick(0, static_cast<int>(c_shapes.size()));  // == size(): no C
    const float alpha = 0.5f + static_cast<float>(pick(0, 4)) * 0.25f, beta = -1.0f + static_cast<float>(pick(0, 8)) * 0.25f;
    const auto f = acts[trial % 5];
    std::vector<Tensor> inputs{a, b};
    const Tensor* c = nullptr;
    Tensor c_tensor;
    if (c_kind < static_cast<int>(c_shapes.size())) {
      c_tensor = random_tensor(c_shapes[static_cast<size_t>(c_kind)], 30 + trial);
      inputs.push_back(c_tensor);
      c = &c_tensor;
    }
    ASSERT_TRUE(close_to(run_node(O::Gemm, inputs, gemm_attrs(alpha, beta, ta, tb, f)),
                         naive::gemm(a, b, c, alpha, beta, ta, tb, f), 1e-5))
        << "trial " << trial << " M " << M << " N " << N << " K " << Kd << " ta " << ta << " tb " << tb;
  }
}

TEST(MatMulKernel, VectorAndMatrixCases) {
  EXPECT_TRUE(values_are(run_node(O::MatMul, {make({3}, {1, 2, 3}), make({3}, {4, 5, 6})}), {}, {32}));
  EXPECT_TRUE(values_are(run_node(O::MatMul, {make({2}, {1, 2}), make({2, 3}, {1, 2, 3, 4, 5, 6})}), {3}, {9, 12, 15}));
  EXPECT_TRUE(values_are(run_node(O::MatMul, {make({2, 2}, {1, 2, 3, 4}), make({2}, {1, 1})}), {2}, {3, 7}));
  EXPECT_TRUE(values_are(run_node(O::MatMul, {kA, kB}), {2, 2}, {4, 5, 10, 11}));
}

TEST(MatMulKernel, BatchedWithBroadcast) {
  // [2,1,2] x [2,1] batch 2 vs none: each batch matrix times the same vector-matrix.
  const Tensor a = make({2, 1, 2}, {1, 2, 3, 4});
  const Tensor b = make({2, 1}, {10, 1});
  EXPECT_TRUE(values_are(run_node(O::MatMul, {a, b}), {2, 1, 1}, {12, 34}));
  // [1,2] x [3,2,1]: one row against three batch matrices.
  const Tensor c = make({3, 2, 1}, {1, 0, 0, 1, 1, 1});
  EXPECT_TRUE(values_are(run_node(O::MatMul, {make({1, 2}, {5, 7}), c}), {3, 1, 1}, {5, 7, 12}));
}

TEST(MatMulKernel, RandomAgainstNaive) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5}, {5}},          {{7}, {7, 3}},          {{4, 7}, {7}},          {{3, 5}, {5, 9}},
      {{2, 3, 5}, {5, 4}}, {{3, 5}, {2, 5, 4}},    {{2, 1, 3, 4}, {5, 4, 6}}, {{1, 3, 4}, {7, 4, 2}},
      {{6}, {2, 3, 6, 5}}, {{2, 3, 4, 6}, {6}},    {{3, 1, 2, 5}, {1, 4, 5, 3}}};
  int i = 0;
  for (const auto& [sa, sb] : cases) {
    const Tensor a = random_tensor(sa, 40 + i), b = random_tensor(sb, 60 + i);
    ASSERT_TRUE(close_to(run_node(O::MatMul, {a, b}), naive::matmul(a, b), 1e-5))
        << shape_to_string(sa) << " x " << shape_to_string(sb);
    ++i;
  }
}

}  // namespace
}  // namespace kiln::test
