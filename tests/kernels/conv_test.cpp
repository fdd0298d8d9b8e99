// Reference Conv: hand-computed cases (strides, pads, dilation, groups, 1-D to
// 3-D, fused activations), then random shapes against naive::conv.
#include <random>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {
namespace {

// ---- Conv: hand-computed -----------------------------------------------------

TEST(ConvKernel, Plain2d) {
  // x = 1..9 (3x3), w = [[1,2],[3,4]]: y(i,j) = x(i,j) + 2x(i,j+1) + 3x(i+1,j) + 4x(i+1,j+1)
  const Tensor y = run_node(O::Conv, {make({1, 1, 3, 3}, iota(9)), make({1, 1, 2, 2}, {1, 2, 3, 4})},
                            conv_attrs({2, 2}));
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {37, 47, 67, 77}));
}

TEST(ConvKernel, StrideAndAsymmetricPads) {
  // pads: top 1, left 0, bottom 0, right 1; stride 2. Windows cover rows {-1,0},{1,2}
  // and columns {0,1},{2,3}; row -1 and column 3 are zero padding.
  const Tensor y = run_node(O::Conv, {make({1, 1, 3, 3}, iota(9)), make({1, 1, 2, 2}, {1, 2, 3, 4})},
                            conv_attrs({2, 2}, {2, 2}, {1, 0, 0, 1}));
  // (0,0): 3*1 + 4*2 = 11; (0,1): 3*3 = 9; (1,0): 4+10+21+32 = 67; (1,1): 6+27 = 33
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {11, 9, 67, 33}));
}

TEST(ConvKernel, Dilation) {
  // x(r,c) = 4r + c on 4x4, 2x2 ones with dilation 2: x(i,j)+x(i,j+2)+x(i+2,j)+x(i+2,j+2)
  const Tensor y = run_node(O::Conv, {make({1, 1, 4, 4}, iota(16, 0)), make({1, 1, 2, 2}, {1, 1, 1, 1})},
                            conv_attrs({2, 2}, {}, {}, {2, 2}));
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {20, 24, 36, 40}));
}

TEST(ConvKernel, GroupsBiasAndFusedLeakyRelu) {
  // 4 input channels, 2 groups: out0 = 1*x0 + 2*x1 + 0.5 = 5.5; out1 = 3*x2 - 2*x3 - 3 = -2 -> leaky 0.1 -> -0.2
  const Tensor y = run_node(O::Conv,
                            {make({1, 4, 1, 1}, {1, 2, 3, 4}), make({2, 2, 1, 1}, {1, 2, 3, -2}), make({2}, {0.5f, -3})},
                            conv_attrs({1, 1}, {}, {}, {}, 2, act(K::LeakyRelu, 0.1f)));
  EXPECT_TRUE(values_are(y, {1, 2, 1, 1}, {5.5f, -0.2f}));
}

TEST(ConvKernel, Depthwise) {
  // Each channel with its own 1x2 kernel: c0 [1,1], c1 [2,-1], c2 [0.5,0.5].
  const Tensor x = make({1, 3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4});
  const Tensor w = make({3, 1, 1, 2}, {1, 1, 2, -1, 0.5f, 0.5f});
  const Tensor y = run_node(O::Conv, {x, w}, conv_attrs({1, 2}, {}, {}, {}, 3));
  EXPECT_TRUE(values_are(y, {1, 3, 2, 1}, {3, 7, 4, 6, -1.5f, -3.5f}));
}

TEST(ConvKernel, OneDimensional) {
  // x0 = 1..5, x1 = [1,1,0,0,1]; w0 = [1,0,-1], w1 = [2,2,2]; stride 2, pads 1/1:
  // windows at -1, 1, 3.
  const Tensor x = make({1, 2, 5}, {1, 2, 3, 4, 5, 1, 1, 0, 0, 1});
  const Tensor w = make({1, 2, 3}, {1, 0, -1, 2, 2, 2});
  const Tensor y = run_node(O::Conv, {x, w}, conv_attrs({3}, {2}, {1, 1}));
  // o0: -2 + 2*(0+1+1) = 2; o1: (2-4) + 2*(1+0+0) = 0; o2: (4-0) + 2*(0+1+0) = 6
  EXPECT_TRUE(values_are(y, {1, 1, 3}, {2, 0, 6}));
}

TEST(ConvKernel, ThreeDimensionalWithPaddedDepth) {
  // x = 1..8 as [d][h][w] 2x2x2; kernel 1x2x2 = [1,2,3,4]; depth padded by 1 in front, bias 1.
  const Tensor y = run_node(O::Conv, {make({1, 1, 2, 2, 2}, iota(8)), make({1, 1, 1, 2, 2}, {1, 2, 3, 4}), make({1}, {1})},
                            conv_attrs({1, 2, 2}, {}, {1, 0, 0, 0, 0, 0}));
  // depth -1: padding only (bias 1); depth 0: 1+4+9+16+1 = 31; depth 1: 5+12+21+32+1 = 71
  EXPECT_TRUE(values_are(y, {1, 1, 3, 1, 1}, {1, 31, 71}));
}

TEST(ConvKernel, FusedClipAndRelu) {
  const Tensor x = make({1, 1, 1, 4}, {-3, -1, 2, 9});
  const Tensor w = make({1, 1, 1, 1}, {1});
  EXPECT_TRUE(values_are(run_node(O::Conv, {x, w}, conv_attrs({1, 1}, {}, {}, {}, 1, act(K::Clip, 0, 6))),
                         {1, 1, 1, 4}, {0, 0, 2, 6}));
  EXPECT_TRUE(values_are(run_node(O::Conv, {x, w}, conv_attrs({1, 1}, {}, {}, {}, 1, act(K::Relu))), {1, 1, 1, 4},
                         {0, 0, 2, 9}));
}

// ---- Conv: random against the naive formula ----------------------------------


TEST(ConvKernel, RandomShapesMatchTheNaiveFormula) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  int ran = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int rank = pick(1, 3);
    const int64_t groups_choice = pick(0, 2);
    const int64_t in_per_group = pick(1, 5), out_per_group = pick(1, 5);
    int64_t group = groups_choice == 0 ? 1 : pick(2, 3);
    int64_t cin = in_per_group * group, cout = out_per_group * group;
    if (groups_choice == 2) {  // depthwise, channels not a multiple of 8
      group = pick(3, 13);
      cin = cout = group;
    }
    naive::ConvParams p;
    p.group = group;
    p.act = random_activation(rng);
    Shape xs{pick(1, 2), cin}, ws{cout, cin / group};
    std::vector<int32_t> kernel;
    for (int a = 0; a < rank; ++a) {
      const int k = pick(1, rank == 3 ? 3 : 5);
      const int d = pick(1, 2);
      const int s = pick(1, 3);
      const int pb = pick(0, 2);
      const int in = (rank == 3 ? pick(3, 6) : rank == 2 ? pick(4, 10) : pick(5, 17)) + (k - 1) * d;
      xs.push_back(in);
      ws.push_back(k);
      kernel.push_back(k);
      p.strides.push_back(s);
      p.dilations.push_back(d);
      p.pads.push_back(pb);
    }
    for (int a = 0; a < rank; ++a) p.pads.push_back(pick(0, 2));
    const Tensor x = random_tensor(xs, 100 + trial);
    const Tensor w = random_tensor(ws, 200 + trial);
    const Tensor b = random_tensor({cout}, 300 + trial);
    const bool with_bias = rng() % 2;
    const Tensor expected = naive::conv(x, w, with_bias ? &b : nullptr, p);
    std::vector<Tensor> inputs{x, w};
    if (with_bias) inputs.push_back(b);
    const Tensor y = run_node(O::Conv, inputs,
                              conv_attrs(kernel, i32(p.strides), i32(p.pads), i32(p.dilations), static_cast<int32_t>(group),
                                         p.act));
    ASSERT_TRUE(close_to(y, expected, 1e-5)) << "trial " << trial << " x " << shape_to_string(xs) << " w "
                                             << shape_to_string(ws) << " group " << group;
    ++ran;
  }
  EXPECT_EQ(ran, 60);
}

TEST(ConvKernel, NaiveConvAgreesWithAHandValue) {
  // The oracle itself on the StrideAndAsymmetricPads case.
  naive::ConvParams p;
  p.strides = {2, 2};
  p.pads = {1, 0, 0, 1};
  const Tensor y = naive::conv(make({1, 1, 3, 3}, iota(9)), make({1, 1, 2, 2}, {1, 2, 3, 4}), nullptr, p);
  EXPECT_TRUE(values_are(y, {1, 1, 2, 2}, {11, 9, 67, 33}));
}

}  // namespace
}  // namespace kiln::test
