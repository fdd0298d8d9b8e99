// Every convolution algorithm of the CUDA backend (fixed:NAME) on many
// shapes -- channels 1 to 67 (odd ones included), kernels 1/3/5/7, strides
// 1/2, asymmetric pads, dilations 1/2, groups including depthwise -- and the
// FCM fused pairs, against the reference backend within 1e-4. Also: batch-32
// ResNet-50 layers (large index arithmetic), the tune mode (measure, then read
// the tuning cache) and per-step profiling events inside CUDA graphs. The
// graphs and the applicability of each algorithm are checked on every machine;
// the comparison needs a CUDA device and skips without one.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "kernels/cuda/conv/conv_algorithm.hpp"
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

ConvGeometry shape_of(const ConvCase& c) {
  ConvGeometry s;
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
  const ConvGeometry dw = shape_of({1, 32, 32, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 32});
  EXPECT_TRUE(cuda::find_conv_algorithm("depthwise")->applicable(dw));
  EXPECT_FALSE(cuda::find_conv_algorithm("cudnn")->applicable(dw));  // asymmetric pads
  EXPECT_FALSE(cuda::find_conv_algorithm("gemm1x1")->applicable(dw));
  const ConvGeometry pw = shape_of({1, 67, 33, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1});
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


// ResNet-50's layers at batch 32 -- conv1 (7x7 s2, 3 -> 64 at 224x224: 25.7M
// output elements) and a bottleneck 1x1 (64 -> 256 at 56x56) -- with every
// applicable algorithm: offsets of whole batches, im2win windows and GEMM
// strides reach tens of millions of elements. GPU only (the reference takes
// seconds at this size), so the graphs are built after the device check.
TEST(CudaConvAlgorithms, Batch32ResNet50Layers) {
  KILN_REQUIRE_CUDA_DEVICE();
  const std::vector<ConvCase> layers = {
      {32, 3, 64, 224, 224, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, K::Relu},
      {32, 64, 256, 56, 56, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
  };
  uint32_t seed = 900;
  for (const ConvCase& c : layers) {
    const Graph g = conv_graph(c, seed);
    const auto inputs = random_inputs(g, seed + 1);
    seed += 10;
    const Model model(std::make_shared<Graph>(g));
    Session ref(model, reference_options());
    const std::vector<Tensor> expected = ref.run(inputs);
    std::vector<std::string> algorithms = {"heuristic"};
    for (const cuda::ConvAlgorithm* a : cuda::conv_algorithms())
      if (a->applicable(shape_of(c))) algorithms.push_back(std::string("fixed:") + a->name());
    for (const std::string& algo : algorithms) {
      SCOPED_TRACE(describe(c) + " [" + algo + "]");
      try {
        Session cuda(model, cuda_options(algo));
        const std::vector<Tensor> actual = cuda.run(inputs);
        ASSERT_EQ(actual.size(), 1u);
        EXPECT_TRUE(tensors_close(actual[0], expected[0], 1e-4));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cuda backend failed: " << e.what();
      }
    }
  }
}

// A 2-D chain (3x3 + ReLU, then 1x1) and a grouped 3-D convolution: the tuner
// measures every applicable algorithm on buffers of the layer's whole shape
// (3-D included), writes the tuning cache, and a second session reads it.
TEST(CudaConvAlgorithms, TuneThenReadTheCache) {
  std::vector<std::pair<std::string, Graph>> graphs;
  {
    GraphBuilder b;
    TensorId t = b.input("x", {2, 16, 20, 20});
    t = b.node(O::Conv, {t, b.random_constant("w1", {32, 16, 3, 3}, 11, -0.5f, 0.5f), b.random_constant("b1", {32}, 12)},
               conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, act(K::Relu)), "conv3x3");
    t = b.node(O::Conv, {t, b.random_constant("w2", {24, 32, 1, 1}, 13, -0.5f, 0.5f), b.random_constant("b2", {24}, 14)},
               conv_attrs({1, 1}), "conv1x1");
    b.output(t);
    graphs.emplace_back("2-D chain", b.build());
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 4, 6, 7, 8});
    b.output(b.node(O::Conv, {x, b.random_constant("w", {6, 2, 3, 3, 3}, 15), b.random_constant("b", {6}, 16)},
                    conv_attrs({3, 3, 3}, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}, 2), "conv3d"));
    graphs.emplace_back("3-D", b.build());
  }
  std::vector<std::vector<Tensor>> inputs, expected;
  for (const auto& [what, g] : graphs) {
    inputs.push_back(random_inputs(g, 21));
    Session ref(Model(std::make_shared<Graph>(g)), reference_options());
    expected.push_back(ref.run(inputs.back()));
  }
  KILN_REQUIRE_CUDA_DEVICE();
  const std::string cache = (std::filesystem::path(::testing::TempDir()) / "kiln-cuda-tune-test.tsv").string();
  std::filesystem::remove(cache);
  SessionOptions o = cuda_options("tune");
  o.tuning_cache = cache;
  for (const char* pass : {"tuned", "tuning cache"}) {
    for (size_t i = 0; i < graphs.size(); ++i) {
      SCOPED_TRACE(graphs[i].first + " (" + pass + ")");
      try {
        Session s(Model(std::make_shared<Graph>(graphs[i].second)), o);
        const std::vector<Tensor> actual = s.run(inputs[i]);
        ASSERT_EQ(actual.size(), 1u);
        EXPECT_TRUE(tensors_close(actual[0], expected[i][0], 1e-4));
        for (const NodeProfile& p : s.profile()) {
          if (p.op == "Conv") {
            EXPECT_NE(p.detail.find(std::string("[") + pass + ","), std::string::npos) << p.name << ": " << p.detail;
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cuda backend failed: " << e.what();
      }
    }
  }
  std::ifstream in(cache);
  int lines = 0;
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  EXPECT_EQ(lines, 3) << "one cache line per tuned layer in " << cache;
  std::filesystem::remove(cache);
}

// GpuOptions::profile_nodes with CUDA graphs on: the per-step events are recorded
// by every replay (event-record nodes), so each run gives per-node device
// times; the same with graphs off. The session must not have fallen back to
// step-by-step launches (that would hide a capture failure).
TEST(CudaConvAlgorithms, ProfilingEventsInsideCudaGraphs) {
  GraphBuilder b;
  TensorId t = b.input("x", {1, 8, 32, 32});
  t = b.node(O::Conv, {t, b.random_constant("w1", {16, 8, 3, 3}, 31, -0.5f, 0.5f), b.random_constant("b1", {16}, 32)},
             conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, act(K::Relu)), "c1");
  t = b.node(O::Conv, {t, b.random_constant("w2", {16, 16, 1, 1}, 33, -0.5f, 0.5f), b.random_constant("b2", {16}, 34)},
             conv_attrs({1, 1}), "c2");
  t = b.node(O::Relu, {t}, {}, "relu");
  b.output(t);
  const Graph g = b.build();
  const auto inputs = random_inputs(g, 35);
  const Model model(std::make_shared<Graph>(g));
  Session ref(model, reference_options());
  const std::vector<Tensor> expected = ref.run(inputs);
  KILN_REQUIRE_CUDA_DEVICE();
  for (const bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "CUDA graphs" : "steps one by one");
    SessionOptions o = cuda_options();
    o.gpu.profile_nodes = true;
    o.gpu.graphs = graphs;
    ::testing::internal::CaptureStderr();
    std::optional<Session> s;
    try {
      s.emplace(model, o);
    } catch (const std::exception& e) {
      ::testing::internal::GetCapturedStderr();
      FAIL() << "session creation failed: " << e.what();
    }
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.find("capture failed"), std::string::npos) << err;
    for (int run = 0; run < 3; ++run) {  // replays record the events again
      std::vector<Tensor> actual;
      ASSERT_NO_THROW(actual = s->run(inputs)) << "run " << run;
      ASSERT_EQ(actual.size(), 1u);
      EXPECT_TRUE(tensors_close(actual[0], expected[0], 1e-4));
      double sum = 0;
      for (const NodeProfile& p : s->profile()) {
        sum += p.ms;
        if (p.op == "Conv") {
          EXPECT_GT(p.ms, 0.0) << p.name << " in run " << run;
        }
      }
      ASSERT_TRUE(s->device_time_ms().has_value());
      EXPECT_GT(sum, 0.0);
      EXPECT_LE(sum, *s->device_time_ms() * 1.01 + 1e-3);
    }
  }
}

}  // namespace
}  // namespace kiln::test
