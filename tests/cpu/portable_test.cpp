// Determinism::Portable: the same bits at every ISA level this CPU has
// (generic, avx2, avx512, avx512_vnni; the kernels called directly also with
// the std::fma generic set, which CPUs without FMA get) and every thread count — each kernel
// family on random shapes (within tolerance of a double-precision oracle or
// the reference backend too), every real model and torchvision export, and
// the backends that refuse the mode.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/core/op_info.hpp"
#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/fused_chain.hpp"
#include "kernels/cpu/conv/select.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The first differing element, for failure messages.
std::string first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return fmt::format(" (element {}: {:a} vs {:a})", i, a[i], b[i]);
  return a.size() == b.size() ? "" : " (sizes differ)";
}

// One sweep over levels and thread counts: the first result is kept, every
// later one must equal it bit for bit. check() says whether it compared.
struct SameBits {
  std::vector<float> first;
  std::string first_name;
  bool check(std::vector<float> y, const std::string& name) {
    if (first.empty()) {
      first = std::move(y);
      first_name = name;
      return false;
    }
    EXPECT_TRUE(same_floats(first, y)) << first_name << " vs " << name << first_difference(first, y);
    return true;
  }
};

// The nodes whose backend detail differs between two sessions.
std::string detail_differences(const Session& a, const Session& b) {
  const auto pa = a.profile(), pb = b.profile();
  std::string out;
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i)
    if (pa[i].detail != pb[i].detail)
      out += fmt::format("\n  {} ({}): '{}' vs '{}'", pa[i].name, pa[i].op, pa[i].detail, pb[i].detail);
  return out.empty() ? " (every node runs the same algorithm)" : out;
}

// Runs `model` in portable mode at every level × `threads`, one session each,
// and expects the same bits from all; returns the first (lowest level, first
// thread count) outputs.
std::vector<Tensor> expect_portable_bits(const Model& model, const std::vector<Tensor>& inputs, const std::string& what,
                                         const std::vector<int>& threads = {1, 2, 3}, const CpuOptions& cpu = {}) {
  std::vector<Tensor> first;
  std::unique_ptr<Session> first_session;
  std::string first_name;
  for (const std::string& isa : cpu_isa_names()) {
    for (int t : threads) {
      SessionOptions o = cpu_options(t, isa, "heuristic", Determinism::Portable);
      o.cpu.l2_bytes = cpu.l2_bytes;
      auto s = std::make_unique<Session>(model, o);
      std::vector<Tensor> out = s->run(inputs);
      const std::string name = fmt::format("{} × {} thread{}", isa, t, t > 1 ? "s" : "");
      if (!first_session) {
        first = std::move(out);
        first_session = std::move(s);
        first_name = name;
        continue;
      }
      EXPECT_TRUE(bitwise_equal(first, out)) << what << ": " << first_name << " vs " << name
                                             << "; nodes run differently:" << detail_differences(*first_session, *s);
    }
  }
  return first;
}

// ---- convolution algorithms called directly ----------------------------------------------

double activate(K kind, double x) {
  switch (kind) {
    case K::Relu: return std::max(x, 0.0);
    case K::HardSwish: return x * std::clamp(x / 6 + 0.5, 0.0, 1.0);
    case K::Sigmoid: return 1 / (1 + std::exp(-x));
    case K::Tanh: return std::tanh(x);
    default: return x;
  }
}

// NHWC convolution in double, any geometry, with an optional residual before the activation.
std::vector<float> naive_conv(const ConvGeometry& s, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& bias, K act, const float* residual) {
  const int cg = s.cin_per_group(), kg = s.cout_per_group();
  std::vector<float> y(static_cast<size_t>(s.output_pixels()) * s.K);
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int k = 0; k < s.K; ++k) {
          const int g = k / kg;
          double acc = bias[static_cast<size_t>(k)];
          for (int c = 0; c < cg; ++c)
            for (int kh = 0; kh < s.KH; ++kh)
              for (int kw = 0; kw < s.KW; ++kw) {
                const int ih = oh * s.sh - s.pt + kh * s.dh, iw = ow * s.sw - s.pl + kw * s.dw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += static_cast<double>(x[((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C + g * cg + c]) *
                       w[((static_cast<size_t>(k) * cg + c) * s.KH + kh) * s.KW + kw];
              }
          const size_t at = ((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k;
          if (residual) acc += residual[at];
          y[at] = static_cast<float>(activate(act, acc));
        }
  return y;
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  return max_relative_error(got.data(), want.data(), want.size());
}

struct RandomConv {
  ConvGeometry s;
  K act = K::None;
};

RandomConv random_conv(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  RandomConv r;
  ConvGeometry& s = r.s;
  s.N = pick(1, 2);
  s.group = pick(0, 3) == 0 ? pick(2, 3) : 1;
  s.C = s.group * pick(1, 37);
  s.K = s.group * pick(1, 45);
  if (pick(0, 3) == 0) s.C = s.K = s.group = pick(1, 70);  // depthwise
  s.KH = 1 + 2 * pick(0, 2), s.KW = pick(0, 4) == 0 ? pick(1, 4) : s.KH;
  s.sh = pick(1, 2), s.sw = pick(0, 3) == 0 ? 3 - s.sh : s.sh;
  s.dh = pick(0, 4) == 0 ? 2 : 1, s.dw = pick(0, 4) == 0 ? 2 : 1;
  if (pick(0, 2) == 0) s.sh = s.sw = s.dh = s.dw = 1;  // winograd's case
  s.pt = pick(0, s.KH / 2 + 1), s.pb = pick(0, s.KH / 2), s.pl = pick(0, s.KW / 2 + 1), s.pr = pick(0, s.KW / 2);
  const int eh = (s.KH - 1) * s.dh + 1, ew = (s.KW - 1) * s.dw + 1;
  s.H = pick(std::max(1, eh - s.pt - s.pb), 23), s.W = pick(std::max(1, ew - s.pl - s.pr), 29);
  s.OH = (s.H + s.pt + s.pb - eh) / s.sh + 1, s.OW = (s.W + s.pl + s.pr - ew) / s.sw + 1;
  const K acts[] = {K::None, K::Relu, K::HardSwish, K::Sigmoid, K::Tanh};
  r.act = acts[pick(0, 4)];
  return r;
}

TEST(CpuPortable, EveryConvolutionAlgorithmSameBitsAtEveryLevelAndThreadCount) {
  std::mt19937 rng(2024);
  cpu::ThreadPool pools[3] = {cpu::ThreadPool(1), cpu::ThreadPool(2), cpu::ThreadPool(3)};
  int compared = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const RandomConv rc = random_conv(rng);
    const ConvGeometry& s = rc.s;
    const std::vector<float> x = random_values(static_cast<size_t>(s.N) * s.H * s.W * s.C, 100 + trial);
    const std::vector<float> w =
        random_values(static_cast<size_t>(s.K) * s.cin_per_group() * s.KH * s.KW, 200 + trial, -0.5f, 0.5f);
    const std::vector<float> bias = random_values(static_cast<size_t>(s.K), 300 + trial);
    const std::vector<float> res = random_values(static_cast<size_t>(s.output_pixels()) * s.K, 400 + trial);
    for (const cpu::ConvAlgorithm* a : cpu::conv_algorithms()) {
      if (!a->applicable(s)) continue;
      const float* residual = a->fuses_residual() ? res.data() : nullptr;
      const std::vector<float> want = naive_conv(s, x, w, bias, rc.act, residual);
      SameBits same;
      for (const cpu::SimdKernels* kernels : cpu::portable_kernel_sets()) {
        for (int t = 0; t < 3; ++t) {
          cpu::ConvLayer layer;
          layer.shape = s;
          layer.weights = w.data();
          layer.bias = bias.data();
          layer.act = {static_cast<uint8_t>(rc.act), 0, 0};
          layer.simd = kernels;
          layer.threads = t + 1;
          auto kernel = a->prepare(layer);
          std::vector<float> ws(kernel->workspace_bytes() / sizeof(float) + 1);
          std::vector<float> y(want.size());
          kernel->run({x.data(), y.data(), residual, ws.data(), &pools[t]});
          const std::string name = fmt::format("{} {} × {} threads [{}] act {}", a->name(), kernels->isa, t + 1,
                                               s.key(), static_cast<int>(rc.act));
          const double tol = std::string(a->name()) == "winograd" ? 1e-3 : 1e-4;
          EXPECT_LE(relative_error(y, want), tol) << name;
          compared += same.check(std::move(y), name) ? 1 : 0;
        }
      }
    }
  }
  EXPECT_GE(compared, 100);
}

// The fused 1×1 → depthwise → 1×1 chains (rows streamed through a ring).
TEST(CpuPortable, FusedChainsSameBitsAtEveryLevelAndThreadCount) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  cpu::ThreadPool pools[3] = {cpu::ThreadPool(1), cpu::ThreadPool(2), cpu::ThreadPool(3)};
  int compared = 0;
  for (int trial = 0; trial < 12; ++trial) {
    const int cin = pick(1, 24), mid = pick(1, 70), cout = pick(1, 40), k = pick(0, 1) ? 3 : 5, stride = pick(1, 2);
    const int H = pick(k, 19), W = pick(k, 21), pad = k / 2, dw_dil = pick(0, 3) == 0 ? 2 : 1;
    const bool expand = trial % 3 != 2, project = trial % 3 != 1;
    auto geometry = [](int C, int Kc, int h, int w, int kk, int st, int p, int dil, int group) {
      ConvGeometry s;
      s.N = 1, s.C = C, s.K = Kc, s.H = h, s.W = w, s.KH = s.KW = kk, s.sh = s.sw = st, s.dh = 1, s.dw = dil;
      s.pt = s.pb = s.pl = s.pr = p, s.group = group;
      s.OH = (h + 2 * p - ((kk - 1) + 1)) / st + 1, s.OW = (w + 2 * p - ((kk - 1) * dil + 1)) / st + 1;
      return s;
    };
    const int dw_c = expand ? mid : cin;
    const ConvGeometry ge = geometry(cin, mid, H, W, 1, 1, 0, 1, 1);
    const ConvGeometry gd = geometry(dw_c, dw_c, H, W, k, stride, pad, dw_dil, dw_c);
    const ConvGeometry gp = geometry(dw_c, cout, gd.OH, gd.OW, 1, 1, 0, 1, 1);
    const std::vector<float> x = random_values(static_cast<size_t>(H) * W * cin, 10 + trial);
    const std::vector<float> we = random_values(static_cast<size_t>(mid) * cin, 20 + trial, -0.5f, 0.5f);
    const std::vector<float> wd = random_values(static_cast<size_t>(dw_c) * k * k, 30 + trial, -0.5f, 0.5f);
    const std::vector<float> wp = random_values(static_cast<size_t>(cout) * dw_c, 40 + trial, -0.5f, 0.5f);
    const std::vector<float> be = random_values(static_cast<size_t>(mid), 50 + trial);
    const std::vector<float> bd = random_values(static_cast<size_t>(dw_c), 60 + trial);
    const std::vector<float> bp = random_values(static_cast<size_t>(cout), 70 + trial);
    // The oracle: the three layers apart, in double.
    std::vector<float> want = expand ? naive_conv(ge, x, we, be, K::HardSwish, nullptr) : x;
    want = naive_conv(gd, want, wd, bd, K::Relu, nullptr);
    if (project) want = naive_conv(gp, want, wp, bp, K::None, nullptr);
    SameBits same;
    for (const cpu::SimdKernels* kernels : cpu::portable_kernel_sets()) {
      for (int t = 0; t < 3; ++t) {
        auto layer = [&](const ConvGeometry& g, const std::vector<float>& w, const std::vector<float>& b, K act) {
          cpu::ConvLayer l;
          l.shape = g;
          l.weights = w.data();
          l.bias = b.data();
          l.act = {static_cast<uint8_t>(act), 0, 0};
          l.simd = kernels;
          l.threads = t + 1;
          return l;
        };
        cpu::ChainLayers c;
        if (expand) c.expand = layer(ge, we, be, K::HardSwish);
        c.depthwise = layer(gd, wd, bd, K::Relu);
        if (project) c.project = layer(gp, wp, bp, K::None);
        ASSERT_TRUE(cpu::chain_applicable(c)) << trial;
        auto kernel = cpu::prepare_chain(c);
        std::vector<float> ws(kernel->workspace_bytes() / sizeof(float) + 1);
        std::vector<float> y(want.size());
        kernel->run({x.data(), y.data(), nullptr, ws.data(), &pools[t]});
        const std::string name = fmt::format("chain {} {}x{} {} × {} threads", trial, k, k, kernels->isa, t + 1);
        EXPECT_LE(relative_error(y, want), 1e-4) << name;
        compared += same.check(std::move(y), name) ? 1 : 0;
      }
    }
  }
  EXPECT_GE(compared, 12);
}

// The heuristic's choice depends on neither the level nor the thread count
// (different algorithms round differently).
TEST(CpuPortable, HeuristicPicksTheSameAlgorithmAtEveryLevelAndThreadCount) {
  std::mt19937 rng(11);
  int differing = 0, checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    cpu::ConvLayer layer;
    layer.shape = random_conv(rng).s;
    const bool residual = trial % 2 == 1;
    std::string first, all;
    for (cpu::Isa isa : cpu::supported_isas()) {
      for (int threads : {1, 2, 3, 8}) {
        BackendOptions o;
        o.threads = threads;
        o.deterministic = Determinism::Portable;
        cpu::ConvSelector selector(o, isa);
        const cpu::Selection sel = selector.choose(layer, residual);
        const std::string name = sel.algorithm ? sel.algorithm->name() : "none";
        all += fmt::format(" {}×{}: {}", cpu::isa_name(isa), threads, name);
        if (first.empty()) first = name;
        if (name != first && ++differing <= 5) ADD_FAILURE() << "[" << layer.shape.key() << "]" << all;
      }
    }
    ++checked;
  }
  EXPECT_EQ(differing, 0) << "of " << checked << " layers";
}

// ---- the other kernel families, through sessions -----------------------------------------

// Every level × threads 1-3 the same bits, and within `tol` of the reference backend.
void check_graph(const Graph& g, uint32_t seed, const std::string& what, double tol = 1e-4, float lo = -1.0f,
                 float hi = 1.0f, const CpuOptions& cpu = {}) {
  const Model model(std::make_shared<Graph>(g));
  const std::vector<Tensor> in = random_inputs(g, seed, lo, hi);
  const std::vector<Tensor> got = expect_portable_bits(model, in, what, {1, 2, 3}, cpu);
  const std::vector<Tensor> want = run_model(model, reference_options(), in);
  EXPECT_LE(max_relative_error_of(got, want), tol) << what;
}

TEST(CpuPortable, SoftmaxAtEveryLength) {
  // Contiguous rows of lengths around the vector widths (4, 8, 16) and a
  // classifier's 1000, and a strided axis (channels of an NCHW tensor).
  for (int64_t len : {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 100, 1000}) {
    GraphBuilder b;
    b.output(b.node(O::Softmax, {b.input("x", {3, len})}, softmax_attrs(1)));
    check_graph(b.build(), static_cast<uint32_t>(len), fmt::format("softmax over {}", len), 1e-5, -6.0f, 6.0f);
  }
  GraphBuilder b;
  b.output(b.node(O::Softmax, {b.input("x", {2, 21, 5, 3})}, softmax_attrs(1)));
  check_graph(b.build(), 5, "softmax over channels", 1e-5, -6.0f, 6.0f);
}

TEST(CpuPortable, ActivationsPoolsAndElementwise) {
  const std::vector<std::pair<O, fb::AttributesUnion>> acts = {
      {O::Sigmoid, no_attrs()},       {O::Tanh, no_attrs()},
      {O::HardSwish, no_attrs()},     {O::HardSigmoid, make_attrs(hard_sigmoid_attrs(0.3f, 0.4f))},
      {O::LeakyRelu, make_attrs(leaky_relu_attrs(0.2f))}, {O::Clip, make_attrs(clip_attrs(-0.5f, 0.75f))}};
  for (size_t i = 0; i < acts.size(); ++i) {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 13, 9, 7});
    // Between convolutions (NHWC, the SIMD kernels) and on a graph input.
    const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {19, 13, 3, 3}, 1), b.random_constant("b", {19}, 2)},
                              conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}));
    const TensorId a = b.node(acts[i].first, {c}, acts[i].second);
    b.output(b.node(O::Conv, {a, b.random_constant("w2", {5, 19, 1, 1}, 3)}, conv_attrs({1, 1})));
    b.output(b.node(acts[i].first, {b.input("v", {3, 37})}, acts[i].second));
    check_graph(b.build(), static_cast<uint32_t>(40 + i), fmt::format("activation {}", op_name(acts[i].first)), 1e-4,
                -4.0f, 4.0f);
  }
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 19, 11, 13});
  const TensorId c = b.node(O::Conv, {x, b.random_constant("w", {21, 19, 3, 3}, 4)},
                            conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 1, act(K::Relu)));
  const TensorId ap = b.node(O::AveragePool, {c}, pool_attrs({3, 3}, {2, 2}, {1, 0, 1, 1}, {}, true, true));
  const TensorId mp = b.node(O::MaxPool, {c}, pool_attrs({3, 2}, {1, 2}, {1, 0, 0, 1}, {2, 1}));
  b.output(b.node(O::GlobalAveragePool, {ap}));
  b.output(b.node(O::Mul, {mp, mp}));
  b.output(b.node(O::Add, {c, b.random_constant("k", {1, 21, 1, 1}, 9)}));
  check_graph(b.build(), 50, "pools and elementwise");
}

// A classifier whose K exceeds the GEMM's K block (sums split into blocks).
TEST(CpuPortable, FullyConnectedWithLongRows) {
  for (int64_t k : {7, 255, 700, 2049}) {
    GraphBuilder b;
    const TensorId x = b.input("x", {3, k});
    b.output(b.node(O::Gemm, {x, b.random_constant("fc", {37, k}, 5), b.random_constant("fcb", {37}, 6)},
                    gemm_attrs(1, 1, false, true)));
    check_graph(b.build(), static_cast<uint32_t>(k), fmt::format("gemm K {}", k));
  }
}

// Small random networks: dense, grouped, depthwise (dilated too), pointwise,
// residual Adds, chains forced to fuse (no L2 in the cost model), a head.
Graph random_network(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)); };
  GraphBuilder b;
  TensorId t = b.input("x", {pick(1, 2), pick(1, 9), pick(9, 23), pick(9, 23)});
  uint32_t wseed = seed * 100;
  const K acts[] = {K::Relu, K::HardSwish, K::Sigmoid, K::Tanh};
  for (int layer = 0; layer < 7; ++layer) {
    const int64_t cin = b.graph().shape(t)[1];
    const int kind = pick(0, 3);
    int64_t cout = pick(1, 40);
    int32_t k = pick(0, 1) ? 3 : (pick(0, 1) ? 1 : 5), stride = pick(0, 3) == 0 ? 2 : 1, group = 1, dil = 1;
    if (kind == 1) cout = cin, group = static_cast<int32_t>(cin), dil = pick(0, 2) == 0 ? 2 : 1;  // depthwise
    if (kind == 2 && cin % 2 == 0) group = 2, cout = 2 * pick(1, 16);                             // grouped
    if (kind == 3) k = 1;                                                                          // pointwise
    const int32_t pad = k / 2 * dil;
    const bool residual = stride == 1 && cout == cin && pick(0, 1);
    const fb::FusedActivation a = residual ? fb::FusedActivation{} : act(acts[pick(0, 3)]);
    wseed += 2;
    const TensorId y = b.node(
        O::Conv,
        {t, b.random_constant(numbered("w", wseed), {cout, cin / group, k, k}, wseed, -0.4f, 0.4f),
         b.random_constant(numbered("b", wseed), {cout}, wseed + 1)},
        conv_attrs({k, k}, {stride, stride}, {pad, pad, pad, pad}, {dil, dil}, group, a));
    t = residual ? b.node(O::Add, {y, t}, binary_attrs(act(K::Relu))) : y;
  }
  const TensorId g = b.node(O::GlobalAveragePool, {t});
  const int64_t c = b.graph().shape(g)[1];
  const TensorId f = b.node(O::Flatten, {g}, flatten_attrs(1));
  const TensorId fc = b.node(O::Gemm, {f, b.random_constant("fc", {7, c}, seed + 5)}, gemm_attrs(1, 1, false, true));
  b.output(b.node(O::Softmax, {fc}, softmax_attrs(1)));
  b.output(t);
  return b.build();
}

TEST(CpuPortable, RandomNetworks) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    CpuOptions cpu;
    if (seed % 2 == 0) cpu.l2_bytes = 0;  // every chain counts as spilled: they fuse
    check_graph(random_network(seed), seed, fmt::format("random network {}", seed), 1e-4, -1.0f, 1.0f, cpu);
  }
}

// ---- real models ---------------------------------------------------------------------------

class CpuPortableModels : public ::testing::TestWithParam<ModelCase> {};

// Every level × threads 1, 2, 3: the same bits; and close to the default
// mode's outputs (a sanity check that portable mode computes the model).
TEST_P(CpuPortableModels, SameBitsAtEveryLevelAndThreadCount) {
  const ModelCase& c = GetParam();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> got = expect_portable_bits(*model, {input}, c.id);
  const std::vector<Tensor> fast = run_model(*model, cpu_options(2), {input});
  EXPECT_LE(max_relative_error_of(got, fast), 1e-3) << c.id << ": portable vs default mode";
}

std::vector<ModelCase> every_model_case() {
  std::vector<ModelCase> v = shared_model_cases();
  for (const ModelCase& c : torchvision_model_cases()) v.push_back(c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryModel, CpuPortableModels, ::testing::ValuesIn(every_model_case()),
                         [](const auto& info) { return info.param.id; });

// A quantized model: the int8 kernels and the float ops around them.
TEST(CpuPortable, QuantizedMobileNetV2) {
  const std::string rel = "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_qdq.onnx";
  if (!have_converter()) GTEST_SKIP() << "this build has no ONNX converter";
  const auto onnx = shared_model(rel);
  if (!onnx) GTEST_SKIP() << missing_shared(rel);
  const Model& model = import_model(*onnx);
  const Tensor x = model_input(model, shared_dir() / "models/mobilenet_v2_1.0_224/opencv_ref_0/input_0.pb");
  expect_portable_bits(model, {x}, "quantized MobileNetV2");
}

// ---- the mode where it does not apply ------------------------------------------------------

TEST(CpuPortable, GpuBackendsRefuseIt) {
  GraphBuilder b;
  b.output(b.node(O::Relu, {b.input("x", {1, 4})}));
  const Model model(std::make_shared<Graph>(b.build()));
  int refused = 0;
  for (const char* backend : {"vulkan", "cuda"}) {
    SessionOptions o;
    o.backend = backend;
    o.deterministic = Determinism::Portable;
    try {
      Session s(model, o);
      ADD_FAILURE() << backend << " accepted portable determinism";
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.find("portable") == std::string::npos) continue;  // not built here (unknown backend)
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << what;
      EXPECT_NE(what.find("portable determinism is a CPU-backend mode; backend '" + std::string(backend) + "'"),
                std::string::npos)
          << what;
      ++refused;
    }
  }
  if (refused == 0) GTEST_SKIP() << "neither vulkan nor cuda is built";
}

TEST(CpuPortable, ReferenceAcceptsItAndAutoPicksAPortableBackend) {
  GraphBuilder b;
  b.output(b.node(O::Sigmoid, {b.input("x", {2, 9})}));
  const Model model(std::make_shared<Graph>(b.build()));
  const std::vector<Tensor> in = random_inputs(model.graph(), 1);
  SessionOptions o = reference_options();
  o.deterministic = Determinism::Portable;
  const std::vector<Tensor> ref = run_model(model, o, in);
  EXPECT_TRUE(bitwise_equal(ref, run_model(model, reference_options(), in)));
  o.backend = "auto";
  EXPECT_NO_THROW(run_model(model, o, in));
}

TEST(CpuPortable, LevelNamesRoundTrip) {
  for (Determinism d : {Determinism::Off, Determinism::Threads, Determinism::Portable})
    EXPECT_EQ(parse_determinism(determinism_name(d)), d);
  EXPECT_EQ(parse_determinism(""), Determinism::Threads);
  try {
    parse_determinism("bitwise");
    ADD_FAILURE() << "an unknown level was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'bitwise'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("portable"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
