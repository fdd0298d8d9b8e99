// deterministic = true: the same bits for any thread count, on a real
// MobileNetV2, the torchvision ResNet-18 export, random convolution graphs and
// every convolution algorithm called directly; "tune" (timing-dependent) is
// refused in that mode.
#include <fmt/format.h>

#include <cstring>
#include <random>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/select.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"
#include "tests/common/model_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

// The nodes whose backend detail differs between two sessions (for failure messages).
std::string detail_differences(const Session& a, const Session& b) {
  const auto pa = a.profile(), pb = b.profile();
  std::string out;
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i)
    if (pa[i].detail != pb[i].detail)
      out += fmt::format("\n  {} ({}): '{}' vs '{}'", pa[i].name, pa[i].op, pa[i].detail, pb[i].detail);
  return out.empty() ? " (every node has the same detail)" : out;
}

// Threads 1, 2 and (unless `with_three` is false) 3 give the same bits.
void expect_same_bits_for_1_2_3_threads(const Model& model, const std::vector<Tensor>& inputs, const std::string& what,
                                        const std::string& isa = "", bool with_three = true) {
  Session single(model, cpu_options(1, isa, "heuristic", Determinism::Threads));
  const std::vector<Tensor> one = single.run(inputs);
  for (int threads : {2, 3}) {
    if (threads == 3 && !with_three) continue;
    Session multi(model, cpu_options(threads, isa, "heuristic", Determinism::Threads));
    const std::vector<Tensor> many = multi.run(inputs);
    EXPECT_TRUE(bitwise_equal(one, many)) << what << ": threads 1 vs " << threads << (isa.empty() ? "" : ", isa " + isa)
                                          << "; nodes run differently:" << detail_differences(single, multi);
  }
  // And a session gives the same bits run after run.
  Session s(model, cpu_options(with_three ? 3 : 2, isa, "heuristic", Determinism::Threads));
  const std::vector<Tensor> first = s.run(inputs);
  EXPECT_TRUE(bitwise_equal(first, s.run(inputs))) << what << ": second run";
  EXPECT_TRUE(bitwise_equal(one, first)) << what;
}

TEST(CpuDeterminism, MobileNetV2RealModel) {
  const std::string rel = "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx";
  if (!have_converter()) GTEST_SKIP() << "this build has no ONNX converter";
  const auto onnx = shared_model(rel);
  if (!onnx) GTEST_SKIP() << missing_shared(rel);
  const Model& model = import_model(*onnx);
  const Tensor x = model_input(model, shared_dir() / "models/mobilenet_v2_1.0_224/opencv_ref_0/input_0.pb");
  expect_same_bits_for_1_2_3_threads(model, {x}, "MobileNetV2");
}

TEST(CpuDeterminism, ResNet18TorchvisionExport) {
  if (!have_converter()) GTEST_SKIP() << "this build has no ONNX converter";
  const auto onnx = torchvision_model("resnet18");
  if (!onnx) GTEST_SKIP() << missing_torchvision("resnet18");
  const Model& model = import_model(*onnx);
  const Tensor x = model_input(model, torchvision_dir() / "resnet18.input.npy");
  expect_same_bits_for_1_2_3_threads(model, {x}, "ResNet-18");
}

// Random small conv networks (dense, pointwise, depthwise, grouped, residual
// Adds, pools, a classifier head) at every ISA level.
Graph random_conv_graph(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  GraphBuilder b;
  TensorId t = b.input("x", {pick(1, 2), pick(1, 9), pick(9, 23), pick(9, 23)});
  uint32_t wseed = seed * 100;
  for (int layer = 0; layer < 6; ++layer) {
    const int64_t cin = b.graph().shape(t)[1];
    const int kind = pick(0, 3);
    int64_t cout = pick(1, 40);
    int32_t k = pick(0, 1) ? 3 : (pick(0, 1) ? 1 : 5), stride = pick(0, 3) == 0 ? 2 : 1, group = 1;
    if (kind == 1) cout = cin, group = static_cast<int32_t>(cin);                 // depthwise
    if (kind == 2 && cin % 2 == 0) group = 2, cout = 2 * pick(1, 16);             // grouped
    if (kind == 3) k = 1;                                                          // pointwise
    const int32_t pad = k / 2;
    const bool residual = stride == 1 && cout == cin && pick(0, 1);
    const fb::FusedActivation a = residual ? fb::FusedActivation{} : act(pick(0, 1) ? K::Relu : K::HardSwish);
    wseed += 2;
    const TensorId y = b.node(
        O::Conv,
        {t, b.random_constant(numbered("w", wseed), {cout, cin / group, k, k}, wseed, -0.4f, 0.4f),
         b.random_constant(numbered("b", wseed), {cout}, wseed + 1)},
        conv_attrs({k, k}, {stride, stride}, {pad, pad, pad, pad}, {}, group, a));
    t = residual ? b.node(O::Add, {y, t}, binary_attrs(act(K::Relu))) : y;
  }
  const TensorId g = b.node(O::GlobalAveragePool, {t});
  const int64_t c = b.graph().shape(g)[1];
  const TensorId f = b.node(O::Flatten, {g}, flatten_attrs(1));
  b.output(b.node(O::Gemm, {f, b.random_constant("fc", {7, c}, seed + 5)}, gemm_attrs(1, 1, false, true)));
  b.output(t);
  return b.build();
}

TEST(CpuDeterminism, RandomConvGraphs) {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const Graph g = random_conv_graph(seed);
    const Model model(std::make_shared<Graph>(g));
    const std::vector<Tensor> in = random_inputs(g, seed);
    // Three threads on this 2-core budget are slow (spinning workers wait for a
    // core): they run at the best ISA level only.
    for (const std::string& isa : cpu_isa_names())
      expect_same_bits_for_1_2_3_threads(model, in, fmt::format("random graph {}", seed), isa, isa == best_cpu_isa());
  }
}

// The smallest such case found: one 3x3 layer (see the test below for the cause).
TEST(CpuDeterminism, SingleConvLayer) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 24, 17, 17});
  b.output(b.node(O::Conv, {x, b.random_constant("w", {64, 24, 3, 3}, 1), b.random_constant("b", {64}, 2)},
                  conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), "conv"));
  const Graph g = b.build();
  const Model model(std::make_shared<Graph>(g));
  for (const std::string& isa : cpu_isa_names())
    expect_same_bits_for_1_2_3_threads(model, random_inputs(g, 3), "conv [1,24,17,17] -> 64, 3x3, pads 1", isa, false);
}

// Each algorithm called directly, prepared for 1, 2 and 3 threads (which
// changes how the work is split into tasks): the same bits.
TEST(CpuDeterminism, EveryAlgorithmGivesTheSameBitsForAnyThreadCount) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  cpu::ThreadPool pools[3] = {cpu::ThreadPool(1), cpu::ThreadPool(2), cpu::ThreadPool(3)};
  int compared = 0;
  for (int trial = 0; trial < 30; ++trial) {
    ConvGeometry s;
    s.N = pick(1, 2);
    s.group = pick(0, 3) == 0 ? 2 : 1;
    s.C = s.group * pick(1, 40);
    s.K = s.group * pick(1, 40);
    if (pick(0, 4) == 0) s.C = s.K = s.group = pick(1, 40);
    s.KH = 1 + 2 * pick(0, 2), s.KW = 1 + 2 * pick(0, 2);
    s.sh = pick(1, 2), s.sw = pick(1, 2);
    s.pt = s.pb = s.KH / 2, s.pl = s.pr = s.KW / 2;
    if (pick(0, 3) == 0) s.pt = s.pb = s.pl = s.pr = 0;
    s.H = pick(s.KH, 24), s.W = pick(s.KW, 24);
    s.OH = (s.H + s.pt + s.pb - s.KH) / s.sh + 1, s.OW = (s.W + s.pl + s.pr - s.KW) / s.sw + 1;
    const std::vector<float> x = random_values(static_cast<size_t>(s.N) * s.H * s.W * s.C, 1000 + trial);
    const std::vector<float> w = random_values(static_cast<size_t>(s.K) * s.cin_per_group() * s.KH * s.KW, 2000 + trial);
    const std::vector<float> bias = random_values(static_cast<size_t>(s.K), 3000 + trial);
    const std::vector<float> res = random_values(static_cast<size_t>(s.output_pixels()) * s.K, 4000 + trial);
    for (const cpu::ConvAlgorithm* a : cpu::conv_algorithms()) {
      if (!a->applicable(s)) continue;
      for (cpu::Isa isa : cpu::supported_isas()) {
        std::vector<float> outs[3];
        const int counts = isa == cpu::best_isa() ? 3 : 2;  // 3 threads at the best level only (2 cores here)
        for (int t = 0; t < counts; ++t) {
          cpu::ConvLayer layer;
          layer.shape = s;
          layer.weights = w.data();
          layer.bias = bias.data();
          layer.act = {static_cast<uint8_t>(K::Relu), 0, 0};
          layer.simd = &cpu::simd_kernels(isa);
          layer.threads = t + 1;
          auto kernel = a->prepare(layer);
          std::vector<float> ws(kernel->workspace_bytes() / sizeof(float) + 1);
          outs[t].assign(static_cast<size_t>(s.output_pixels()) * s.K, 0.0f);
          kernel->run({x.data(), outs[t].data(), a->fuses_residual() ? res.data() : nullptr, ws.data(), &pools[t]});
        }
        for (int t = 1; t < counts; ++t)
          EXPECT_EQ(std::memcmp(outs[0].data(), outs[t].data(), outs[0].size() * sizeof(float)), 0)
              << a->name() << "/" << cpu::isa_name(isa) << " [" << s.key() << "]: threads 1 vs " << t + 1;
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 100);
}

// Different algorithms round differently, so with deterministic = true the
// heuristic must pick a layer's algorithm independently of the thread count.
TEST(CpuDeterminism, HeuristicPicksTheSameAlgorithmForAnyThreadCount) {
  std::mt19937 rng(5);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  int checked = 0, differing = 0;
  for (int trial = 0; trial < 300; ++trial) {
    cpu::ConvLayer layer;
    ConvGeometry& s = layer.shape;
    s.N = 1;
    s.C = pick(1, 4) * 8 + pick(0, 1) * pick(1, 7);
    s.K = pick(1, 8) * 8;
    s.KH = s.KW = pick(0, 2) == 0 ? 1 : 3;
    s.sh = s.sw = pick(0, 3) == 0 ? 2 : 1;
    s.pt = s.pl = s.pb = s.pr = s.KH / 2;
    s.H = s.W = pick(4, 56);
    s.OH = (s.H + 2 * s.pt - s.KH) / s.sh + 1, s.OW = (s.W + 2 * s.pl - s.KW) / s.sw + 1;
    const bool residual = pick(0, 1) == 1;
    for (cpu::Isa isa : cpu::supported_isas()) {
      std::string first, all;
      bool same = true;
      for (int threads : {1, 2, 3, 4, 8}) {
        BackendOptions o;
        o.threads = threads;
        o.deterministic = Determinism::Threads;
        cpu::ConvSelector selector(o, isa);
        const cpu::Selection sel = selector.choose(layer, residual);
        const std::string name = sel.algorithm ? sel.algorithm->name() : "none";
        all += fmt::format("{}{} thread{}: {}", all.empty() ? "" : ", ", threads, threads > 1 ? "s" : "", name);
        if (first.empty()) first = name;
        same = same && name == first;
      }
      ++checked;
      if (!same && ++differing <= 5)
        ADD_FAILURE() << "[" << s.key() << "]" << (residual ? " +residual" : "") << " at " << cpu::isa_name(isa) << ": "
                      << all;
    }
  }
  EXPECT_EQ(differing, 0) << differing << " of " << checked << " layer/ISA pairs change algorithm with the thread count";
}

TEST(CpuDeterminism, TuneIsRefusedInDeterministicMode) {
  GraphBuilder b;
  b.output(b.node(O::Conv, {b.input("x", {1, 3, 8, 8}), b.random_constant("w", {4, 3, 3, 3}, 1)}, conv_attrs({3, 3})));
  const Model model(std::make_shared<Graph>(b.build()));
  try {
    Session s(model, cpu_options(2, "", "tune", Determinism::Threads));
    ADD_FAILURE() << "algorithm tune with deterministic = true was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("tune"), std::string::npos) << what;
    EXPECT_NE(what.find("deterministic"), std::string::npos) << what;
  }
  // The other modes are fine with it.
  for (const std::string& algorithm : {std::string("heuristic"), std::string("fixed:direct")})
    EXPECT_NO_THROW({ Session s(model, cpu_options(2, "", algorithm, Determinism::Threads)); }) << algorithm;
}

}  // namespace
}  // namespace kiln::test
