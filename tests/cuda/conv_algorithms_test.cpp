// Every convolution algorithm of the CUDA backend (fixed:NAME) on many
// shapes -- channels 1 to 67 (odd ones included), kernels 1/3/5/7, strides
// 1/2, asymmetric pads, dilations 1/2, groups including depthwise -- and the
// FCM fused pairs, against the reference backend within 1e-4. The graphs and
// the applicability of each algorithm are checked on every machine; the
// comparison needs a CUDA device and skips without one.
#include <fmt/format.h>

#include <random>

#include "kernels/cuda/conv_algorithm.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cuda/cuda_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

struct ConvCase {
  int n, c, k, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
  K act = K::None;
};

std::string describe(const ConvCase& c) {
  return fmt::format("N{} C{} K{} {}x{} k{}x{} s{}x{} d{}x{} p{},{},{},{} g{} act{}", c.n, c.c, c.k, c.h, c.w, c.kh,
                     c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr, c.group, static_cast<int>(c.act));
}

// Hand-picked shapes plus seeded random ones.
std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> v = {
      {1, 3, 16, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, K::Relu},
      {2, 1, 1, 9, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
      {1, 67, 33, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, K::Clip},
      {1, 32, 32, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 32, K::Relu},  // depthwise, asymmetric pad
      {2, 24, 48, 13, 13, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 24},          // depthwise multiplier 2
      {1, 12, 18, 15, 10, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 3},
      {1, 8, 8, 16, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, K::LeakyRelu},
      {1, 5, 7, 23, 19, 5, 3, 2, 1, 1, 2, 1, 0, 2, 3, 1, K::Sigmoid},
      {3, 6, 9, 7, 7, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 3, K::HardSwish},
      {1, 64, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64, K::Clip},
      {1, 65, 129, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // two 64-channel tiles and a remainder
      {1, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, K::Tanh},
  };
  std::mt19937 rng(2024);
  auto pick = [&](std::initializer_list<int> xs) { return *(xs.begin() + std::uniform_int_distribution<size_t>(0, xs.size() - 1)(rng)); };
  for (int i = 0; i < 36; ++i) {
    ConvCase c{};
    c.n = pick({1, 1, 2});
    c.kh = pick({1, 3, 5, 7});
    c.kw = pick({1, 3, 5, 7});
    c.sh = pick({1, 2});
    c.sw = pick({1, 2});
    c.dh = pick({1, 1, 2});
    c.dw = pick({1, 1, 2});
    c.group = pick({1, 1, 1, 2, 3, 0});  // 0: depthwise
    const int per = std::uniform_int_distribution<int>(1, 23)(rng);
    if (c.group == 0) {
      c.c = std::uniform_int_distribution<int>(1, 67)(rng);
      c.group = c.c;
      c.k = c.c * pick({1, 1, 2});
    } else {
      c.c = std::min(67, per * c.group);
      c.c -= c.c % c.group;
      c.k = c.group * std::uniform_int_distribution<int>(1, 67 / c.group)(rng);
    }
    c.pt = std::uniform_int_distribution<int>(0, c.kh / 2 + 1)(rng);
    c.pb = std::uniform_int_distribution<int>(0, c.kh / 2)(rng);
    c.pl = std::uniform_int_distribution<int>(0, c.kw / 2 + 1)(rng);
    c.pr = std::uniform_int_distribution<int>(0, c.kw / 2)(rng);
    const int ekh = (c.kh - 1) * c.dh + 1, ekw = (c.kw - 1) * c.dw + 1;
    c.h = std::max(ekh, std::uniform_int_distribution<int>(1, 24)(rng));
    c.w = std::max(ekw, std::uniform_int_distribution<int>(1, 24)(rng));
    c.act = static_cast<K>(pick({0, 0, 1, 2, 6}));
    v.push_back(c);
  }
  return v;
}

fb::FusedActivation activation(K kind) { return kind == K::Clip ? act(K::Clip, 0.0f, 6.0f) : act(kind, 0.1f); }

Graph conv_graph(const ConvCase& c, uint32_t seed) {
  GraphBuilder b;
  const TensorId x = b.input("x", {c.n, c.c, c.h, c.w});
  const TensorId w = b.random_constant("w", {c.k, c.c / c.group, c.kh, c.kw}, seed, -0.5f, 0.5f);
  const TensorId bias = b.random_constant("b", {c.k}, seed + 1);
  b.output(b.node(O::Conv, {x, w, bias},
                  conv_attrs({c.kh, c.kw}, {c.sh, c.sw}, {c.pt, c.pl, c.pb, c.pr}, {c.dh, c.dw}, c.group,
                             activation(c.act)),
                  "conv"));
  return b.build();
}

cuda::ConvShape shape_of(const ConvCase& c) {
  cuda::ConvShape s;
  s.N = c.n, s.C = c.c, s.H = c.h, s.W = c.w, s.K = c.k, s.KH = c.kh, s.KW = c.kw, s.sh = c.sh, s.sw = c.sw;
  s.dh = c.dh, s.dw = c.dw, s.pt = c.pt, s.pl = c.pl, s.pb = c.pb, s.pr = c.pr, s.group = c.group;
  s.OH = (c.h + c.pt + c.pb - ((c.kh - 1) * c.dh + 1)) / c.sh + 1;
  s.OW = (c.w + c.pl + c.pr - ((c.kw - 1) * c.dw + 1)) / c.sw + 1;
  return s;
}

TEST(CudaConvAlgorithms, RegistryNamesEveryAlgorithmOfTheIssue) {
  std::vector<std::string> names = cuda::conv_algorithm_names();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"cudnn", "depthwise", "direct", "fcm_dw_pw", "fcm_pw_dw", "gemm1x1",
                                             "im2win", "implicit_gemm"}));
  // Applicability as documented in conv_algorithm.hpp.
  const cuda::ConvShape dw = shape_of({1, 32, 32, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 32});
  EXPECT_TRUE(cuda::find_conv_algorithm("depthwise")->applicable(dw));
  EXPECT_FALSE(cuda::find_conv_algorithm("cudnn")->applicable(dw));  // asymmetric pads
  EXPECT_FALSE(cuda::find_conv_algorithm("gemm1x1")->applicable(dw));
  const cuda::ConvShape pw = shape_of({1, 67, 33, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1});
  EXPECT_TRUE(cuda::find_conv_algorithm("gemm1x1")->applicable(pw));
  EXPECT_TRUE(cuda::find_conv_algorithm("cudnn")->applicable(pw));
  EXPECT_FALSE(cuda::find_conv_algorithm("depthwise")->applicable(pw));
  for (const auto* a : cuda::conv_algorithms()) EXPECT_GT(a->cost_ms(pw, cuda::h100_model()), 0) << a->name();
}

TEST(CudaConvAlgorithms, EveryAlgorithmOnManyShapes) {
  CudaCases cases;
  int i = 0;
  for (const ConvCase& c : conv_cases()) {
    const Graph g = conv_graph(c, 300 + static_cast<uint32_t>(i));
    const auto inputs = random_inputs(g, 400 + static_cast<uint32_t>(i));
    for (const cuda::ConvAlgorithm* a : cuda::conv_algorithms()) {
      if (!a->applicable(shape_of(c))) continue;
      cases.add(g, inputs, describe(c), std::string("fixed:") + a->name(), a->name());
    }
    cases.add(g, inputs, describe(c), "heuristic");
    ++i;
  }
  KILN_CUDA_COMPARE(cases);
}

TEST(CudaConvAlgorithms, OneAndThreeDimensionalConvolutions) {
  CudaCases cases;
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 5, 31});
    b.output(b.node(O::Conv, {x, b.random_constant("w", {7, 5, 5}, 1), b.random_constant("b", {7}, 2)},
                    conv_attrs({5}, {2}, {2, 1}, {1}, 1)));
    const Graph g = b.build();
    for (const std::string algo : {"heuristic", "fixed:direct", "fixed:implicit_gemm", "fixed:im2win"})
      cases.add(g, random_inputs(g, 3), "1-D", algo);
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 4, 6, 7, 8});
    b.output(b.node(O::Conv, {x, b.random_constant("w", {6, 2, 3, 3, 3}, 1), b.random_constant("b", {6}, 2)},
                    conv_attrs({3, 3, 3}, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}, 2)));
    const Graph g = b.build();
    cases.add(g, random_inputs(g, 4), "3-D", "heuristic", "direct");
  }
  KILN_CUDA_COMPARE(cases);
}

// A depthwise layer with its 1x1 neighbours: expand (C -> M) -> dw -> project (M -> K).
struct PairCase {
  int n, c, m, k, hw, kernel, stride, dilation, pad_begin, pad_end;
};

Graph block_graph(const PairCase& p, bool expand, bool project, uint32_t seed) {
  GraphBuilder b;
  TensorId t = b.input("x", {p.n, expand ? p.c : p.m, p.hw, p.hw});
  if (expand)
    t = b.node(O::Conv, {t, b.random_constant("we", {p.m, p.c, 1, 1}, seed, -0.5f, 0.5f), b.random_constant("be", {p.m}, seed + 1)},
               conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, {}, 1, act(K::Clip, 0.0f, 6.0f)), "expand");
  t = b.node(O::Conv,
             {t, b.random_constant("wd", {p.m, 1, p.kernel, p.kernel}, seed + 2, -0.5f, 0.5f), b.random_constant("bd", {p.m}, seed + 3)},
             conv_attrs({p.kernel, p.kernel}, {p.stride, p.stride}, {p.pad_begin, p.pad_begin, p.pad_end, p.pad_end},
                        {p.dilation, p.dilation}, p.m, act(K::Clip, 0.0f, 6.0f)),
             "dw");
  if (project)
    t = b.node(O::Conv, {t, b.random_constant("wp", {p.k, p.m, 1, 1}, seed + 4, -0.5f, 0.5f), b.random_constant("bp", {p.k}, seed + 5)},
               conv_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, {}, 1), "project");
  b.output(t);
  return b.build();
}

TEST(CudaConvAlgorithms, FusedPairsOnManyShapes) {
  const std::vector<PairCase> pairs = {
      {1, 16, 96, 24, 28, 3, 1, 1, 1, 1},  {2, 24, 144, 32, 15, 3, 2, 1, 1, 1}, {1, 3, 5, 7, 9, 3, 1, 1, 1, 1},
      {1, 17, 67, 33, 13, 5, 2, 1, 2, 1},  {1, 8, 40, 65, 10, 3, 1, 2, 2, 2},   {1, 32, 64, 129, 7, 3, 1, 1, 0, 2},
      {3, 1, 1, 1, 6, 7, 1, 1, 3, 3},      {1, 160, 960, 320, 7, 3, 1, 1, 1, 1},
  };
  CudaCases cases;
  uint32_t seed = 500;
  for (const PairCase& p : pairs) {
    const std::string what = fmt::format("C{} M{} K{} {}x{} k{} s{} d{} p{},{}", p.c, p.m, p.k, p.hw, p.hw, p.kernel,
                                         p.stride, p.dilation, p.pad_begin, p.pad_end);
    const Graph dw_pw = block_graph(p, false, true, seed);
    cases.add(dw_pw, random_inputs(dw_pw, seed), "dw->pw " + what, "fixed:fcm_dw_pw", "fcm_dw_pw");
    const Graph pw_dw = block_graph(p, true, false, seed + 10);
    cases.add(pw_dw, random_inputs(pw_dw, seed), "pw->dw " + what, "fixed:fcm_pw_dw", "fcm_pw_dw");
    const Graph block = block_graph(p, true, true, seed + 20);
    for (const std::string algo : {"fixed:fcm_dw_pw", "fixed:fcm_pw_dw", "heuristic", "fixed:cudnn"})
      cases.add(block, random_inputs(block, seed), "expand->dw->project " + what, algo);
    seed += 30;
  }
  KILN_CUDA_COMPARE(cases);
}

}  // namespace
}  // namespace kiln::test
