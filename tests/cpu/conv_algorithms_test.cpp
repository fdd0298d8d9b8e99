// Every registered convolution algorithm of the CPU backend — iterated from
// kiln::cpu::conv_algorithms(), so an algorithm registered later is covered
// without editing this file — at every ISA level this machine supports, on
// randomized shapes (fixed seeds) against a naive NHWC convolution computed in
// double precision here. Each algorithm is called directly through
// prepare() + run() with threads 1 and 2, with guard zones around the output
// and the workspace.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using cpu::Activation;
using cpu::ConvAlgorithm;
using kiln::ConvGeometry;
using K = fb::ActivationKind;

constexpr size_t kMinShapes = 20;    // every algorithm is checked on at least this many shapes
constexpr size_t kTopUpTo = 30;      // narrow algorithms get extra random shapes up to this many
constexpr int kBaseShapes = 150;     // the common randomized set (channels 1..67)
constexpr int kWideShapes = 12;      // plus a few with 130..1100 input channels
constexpr int64_t kMaxMacs = 1'500'000;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
double tolerance_for(const std::string& algorithm) { return starts_with(algorithm, "winograd") ? 1e-3 : 1e-4; }

// ---- cases ------------------------------------------------------------------------------

struct ConvCase {
  ConvGeometry s;
  bool bias = false;
  Activation act;
  bool residual = false;  // used only with algorithms that fuse a residual
  uint32_t seed = 0;
};

const char* act_name(const Activation& a) { return fb::EnumNameActivationKind(static_cast<K>(a.kind)); }

std::string describe(const ConvCase& c) {
  return fmt::format("[{}] bias {} act {}({:g},{:g}) residual {}", c.s.key(), c.bias ? 1 : 0, act_name(c.act),
                     c.act.alpha, c.act.beta, c.residual ? 1 : 0);
}

Activation make_act(K kind, float alpha = 0, float beta = 0) { return {static_cast<uint8_t>(kind), alpha, beta}; }

const std::vector<Activation>& activations() {
  static const std::vector<Activation> all = {
      make_act(K::None),          make_act(K::Relu),    make_act(K::Clip, 0, 6),
      make_act(K::LeakyRelu, 0.1f), make_act(K::HardSwish), make_act(K::Sigmoid),
      make_act(K::HardSigmoid, 0.2f, 0.5f), make_act(K::Tanh), make_act(K::Clip, -0.5f, 0.5f)};
  return all;
}

int out_size(int in, int k, int stride, int dilation, int pad_begin, int pad_end) {
  const int span = in + pad_begin + pad_end - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Random shapes in six families: pointwise (1×1, no padding), depthwise,
// typical group-1 layers (3×3 mostly, stride 1), grouped (2 or 3 groups),
// anything (every parameter drawn independently), and wide (many input
// channels, for long reductions).
class CaseGenerator {
 public:
  explicit CaseGenerator(uint32_t seed) : rng_(seed), seed_base_(seed * 1000u) {}

  ConvCase next(int family) {
    for (;;) {
      ConvCase c;
      if (draw(family, c)) return c;
    }
  }

 private:
  int pick(int lo, int hi) { return lo + static_cast<int>(rng_() % static_cast<unsigned>(hi - lo + 1)); }
  template <class T>
  T one_of(std::initializer_list<T> v) {
    return *(v.begin() + pick(0, static_cast<int>(v.size()) - 1));
  }
  // Channel counts: often awkward (not a multiple of 4, 8 or 16), sometimes
  // exactly a vector multiple or one past it.
  int channels(int max) {
    if (max <= 1) return 1;
    if (pick(0, 9) < 3) {
      for (;;) {
        const int c = one_of({1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 67});
        if (c <= max) return c;
      }
    }
    return pick(1, max);
  }

  bool draw(int family, ConvCase& c) {
    ConvGeometry& s = c.s;
    s.N = pick(1, 2);
    int group = 1;
    bool depthwise = false;
    switch (family) {
      case 0:  // pointwise
        s.KH = s.KW = 1;
        s.sh = pick(1, 2), s.sw = pick(1, 2);
        s.dh = pick(1, 2), s.dw = 1;
        group = one_of({1, 1, 1, 2, 3});
        break;
      case 1: {  // depthwise
        depthwise = true;
        const auto k = one_of<std::pair<int, int>>({{3, 3}, {3, 3}, {3, 3}, {5, 5}, {5, 5}, {7, 7}, {1, 1}, {3, 1}, {1, 5}, {5, 3}});
        s.KH = k.first, s.KW = k.second;
        s.sh = pick(1, 2), s.sw = pick(0, 3) == 0 ? 3 - s.sh : s.sh;
        s.dh = pick(0, 4) == 0 ? 2 : 1, s.dw = pick(0, 4) == 0 ? 2 : 1;
        s.pt = pick(0, s.KH / 2 + 1), s.pb = pick(0, s.KH / 2 + 1), s.pl = pick(0, s.KW / 2 + 1), s.pr = pick(0, s.KW / 2);
        break;
      }
      case 2: {  // typical group-1 layers
        const auto k = one_of<std::pair<int, int>>(
            {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {5, 5}, {7, 7}, {1, 7}, {7, 1}, {3, 5}});
        s.KH = k.first, s.KW = k.second;
        s.sh = s.sw = pick(0, 4) == 0 ? 2 : 1;
        if (pick(0, 1) == 0) {
          s.pt = s.pb = s.KH / 2, s.pl = s.pr = s.KW / 2;  // "same" padding
        } else {
          s.pt = pick(0, s.KH / 2 + 1), s.pb = pick(0, s.KH / 2), s.pl = pick(0, s.KW / 2), s.pr = pick(0, s.KW / 2 + 1);
        }
        break;
      }
      case 5: {  // wide: long reductions that cross every ISA's K block (256, 512 or 1024 floats)
        const auto k = one_of<std::pair<int, int>>({{1, 1}, {1, 1}, {3, 3}, {3, 3}, {1, 3}});
        s.KH = k.first, s.KW = k.second;
        s.sh = s.sw = pick(0, 3) == 0 ? 2 : 1;
        s.pt = s.pb = s.KH / 2, s.pl = s.pr = s.KW / 2;
        group = one_of({1, 1, 1, 2});
        s.group = group;
        s.C = one_of({130, 257, 300, 520, 550, 1030, 1100});
        s.C -= s.C % group;
        s.K = group * (s.KH * s.KW == 1 ? one_of({3, 17, 35, 70}) : one_of({3, 9, 17}));
        break;
      }
      case 3:  // grouped
      default: {  // anything
        group = family == 3 ? pick(2, 3) : one_of({1, 1, 1, 2, 3, 0});
        if (group == 0) depthwise = true, group = 1;
        s.KH = one_of({1, 3, 5, 7}), s.KW = one_of({1, 3, 5, 7});
        s.sh = pick(1, 2), s.sw = pick(1, 2);
        s.dh = pick(1, 2), s.dw = pick(1, 2);
        s.pt = pick(0, 3), s.pl = pick(0, 3), s.pb = pick(0, 3), s.pr = pick(0, 3);
        if (pick(0, 3) == 0) s.pt = s.pl = s.pb = s.pr = 0;
        break;
      }
    }
    if (family == 5) {
      // channels set above
    } else if (depthwise) {
      // Sometimes enough channels for the kernels' wide paths (four vectors
      // of 16 at a time on AVX-512's edge columns).
      s.C = s.K = s.group = family == 1 && pick(0, 3) == 0 ? one_of({64, 80, 100, 130, 200}) : channels(67);
    } else {
      s.group = group;
      s.C = group * channels(67 / group);
      s.K = group * channels(67 / group);
    }
    // Spatial sizes 1..19 (odd ones included) for which the kernel fits.
    for (int attempt = 0;; ++attempt) {
      if (attempt == 50) return false;
      s.H = pick(1, family == 5 ? 8 : 19), s.W = pick(1, family == 5 ? 8 : 19);
      s.OH = out_size(s.H, s.KH, s.sh, s.dh, s.pt, s.pb);
      s.OW = out_size(s.W, s.KW, s.sw, s.dw, s.pl, s.pr);
      if (s.OH < 1 || s.OW < 1) continue;
      if (s.macs() > kMaxMacs) {
        if (s.N == 2) s.N = 1;
        continue;
      }
      break;
    }
    c.bias = pick(0, 2) != 0;
    c.act = activations()[static_cast<size_t>(pick(0, static_cast<int>(activations().size()) - 1))];
    c.residual = pick(0, 1) == 1;
    c.seed = seed_base_ + counter_++;
    return true;
  }

  std::mt19937 rng_;
  uint32_t seed_base_;
  uint32_t counter_ = 0;
};

// The common set: kBaseShapes cases cycling through the first five families, then kWideShapes wide ones.
const std::vector<ConvCase>& base_cases() {
  static const std::vector<ConvCase> cases = [] {
    CaseGenerator gen(20240601);
    std::vector<ConvCase> v;
    for (int i = 0; i < kBaseShapes; ++i) v.push_back(gen.next(i % 5));
    for (int i = 0; i < kWideShapes; ++i) v.push_back(gen.next(5));
    return v;
  }();
  return cases;
}

// The base cases `a` applies to, topped up (from another fixed seed) with more
// random shapes it applies to while it has fewer than kTopUpTo.
std::vector<ConvCase> cases_for(const ConvAlgorithm& a) {
  std::vector<ConvCase> out;
  for (const ConvCase& c : base_cases())
    if (a.applicable(c.s)) out.push_back(c);
  CaseGenerator more(777);
  for (int tries = 0; out.size() < kTopUpTo && tries < 50000; ++tries) {
    ConvCase c = more.next(tries % 5);
    if (a.applicable(c.s)) out.push_back(c);
  }
  return out;
}

// ---- data and the naive oracle ----------------------------------------------------------

struct ConvData {
  std::vector<float> x;         // [N][H][W][C]
  std::vector<float> w;         // [K][C/group][KH][KW]
  std::vector<float> bias;      // [K]
  std::vector<float> residual;  // [N][OH][OW][K]
};

ConvData make_data(const ConvCase& c) {
  const ConvGeometry& s = c.s;
  ConvData d;
  d.x = random_values(static_cast<size_t>(s.N) * s.H * s.W * s.C, c.seed * 4 + 1);
  d.w = random_values(static_cast<size_t>(s.K) * s.cin_per_group() * s.KH * s.KW, c.seed * 4 + 2);
  d.bias = random_values(static_cast<size_t>(s.K), c.seed * 4 + 3);
  d.residual = random_values(static_cast<size_t>(s.output_pixels()) * s.K, c.seed * 4 + 4);
  return d;
}

double activate(const Activation& a, double x) {
  switch (static_cast<K>(a.kind)) {
    case K::None: return x;
    case K::Relu: return x > 0 ? x : 0.0;
    case K::Clip: return std::max(std::min(x, static_cast<double>(a.beta)), static_cast<double>(a.alpha));
    case K::LeakyRelu: return x >= 0 ? x : a.alpha * x;
    case K::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case K::HardSigmoid: return std::clamp(a.alpha * x + a.beta, 0.0, 1.0);
    case K::HardSwish: return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case K::Tanh: return std::tanh(x);
  }
  return x;
}

// y[n][oh][ow][k] = act(bias[k] + Σ x[n][ih][iw][g·Cg + c] · w[k][c][kh][kw] + residual), in double.
std::vector<double> naive_conv(const ConvCase& c, const ConvData& d, bool with_residual) {
  const ConvGeometry& s = c.s;
  const int cg = s.cin_per_group(), kg = s.cout_per_group();
  std::vector<double> y(static_cast<size_t>(s.output_pixels()) * s.K);
  size_t o = 0;
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int k = 0; k < s.K; ++k, ++o) {
          const int g = k / kg;
          double acc = c.bias ? d.bias[static_cast<size_t>(k)] : 0.0;
          for (int kh = 0; kh < s.KH; ++kh) {
            const int ih = oh * s.sh - s.pt + kh * s.dh;
            if (ih < 0 || ih >= s.H) continue;
            for (int kw = 0; kw < s.KW; ++kw) {
              const int iw = ow * s.sw - s.pl + kw * s.dw;
              if (iw < 0 || iw >= s.W) continue;
              const float* xp = &d.x[((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C + static_cast<size_t>(g) * cg];
              for (int ci = 0; ci < cg; ++ci)
                acc += static_cast<double>(xp[ci]) *
                       d.w[((static_cast<size_t>(k) * cg + ci) * s.KH + kh) * s.KW + kw];
            }
          }
          if (with_residual) acc += d.residual[o];
          y[o] = activate(c.act, acc);
        }
  return y;
}

// ---- running one algorithm --------------------------------------------------------------

constexpr size_t kGuard = 37;              // floats before and after the output and after the workspace
constexpr float kGuardValue = -12345.678f;

struct Outcome {
  std::vector<float> y;  // without the guards
  std::string problem;   // empty when the run behaved
};

Outcome run_algorithm(const ConvAlgorithm& a, const cpu::SimdKernels& simd, const ConvCase& c, const ConvData& d,
                      bool residual, cpu::ThreadPool& pool, int runs = 1) {
  const ConvGeometry& s = c.s;
  cpu::ConvLayer layer;
  layer.shape = s;
  layer.weights = d.w.data();
  layer.bias = c.bias ? d.bias.data() : nullptr;
  layer.act = c.act;
  layer.simd = &simd;
  layer.threads = pool.threads();
  const std::unique_ptr<cpu::ConvKernel> kernel = a.prepare(layer);
  Outcome out;
  if (!kernel) {
    out.problem = "prepare() returned null";
    return out;
  }
  const size_t ws_floats = (kernel->workspace_bytes() + sizeof(float) - 1) / sizeof(float);
  // The workspace starts as NaN: a kernel that reads scratch it did not write shows up.
  std::vector<float> ws(ws_floats + kGuard, NAN);
  std::fill(ws.begin() + static_cast<std::ptrdiff_t>(ws_floats), ws.end(), kGuardValue);
  const size_t ny = static_cast<size_t>(s.output_pixels()) * s.K;
  std::vector<float> y(ny + 2 * kGuard, kGuardValue);
  std::fill(y.begin() + kGuard, y.begin() + static_cast<std::ptrdiff_t>(kGuard + ny), NAN);
  const std::vector<float> x_before = d.x;
  std::vector<float> first;
  for (int r = 0; r < runs; ++r) {
    kernel->run({d.x.data(), y.data() + kGuard, residual ? d.residual.data() : nullptr, ws.data(), &pool});
    if (r == 0) first.assign(y.begin() + kGuard, y.begin() + static_cast<std::ptrdiff_t>(kGuard + ny));
  }
  for (size_t i = 0; i < kGuard; ++i) {
    if (y[i] != kGuardValue && out.problem.empty()) out.problem = fmt::format("wrote {} floats before the output", kGuard - i);
    if (y[kGuard + ny + i] != kGuardValue && out.problem.empty())
      out.problem = fmt::format("wrote past the end of the output (float {} after it)", i);
    if (ws[ws_floats + i] != kGuardValue && out.problem.empty())
      out.problem = fmt::format("wrote past workspace_bytes() = {} (float {} after it)", kernel->workspace_bytes(), i);
  }
  if (d.x != x_before && out.problem.empty()) out.problem = "modified its input";
  out.y.assign(y.begin() + kGuard, y.begin() + static_cast<std::ptrdiff_t>(kGuard + ny));
  if (runs > 1 && std::memcmp(first.data(), out.y.data(), ny * sizeof(float)) != 0 && out.problem.empty())
    out.problem = "a second run() of the same prepared kernel gave different bits";
  return out;
}

struct Comparison {
  double rel = 0;  // max|a-b| / max|ref|; infinity for a non-finite value
  std::string where;
};

Comparison compare(const std::vector<float>& got, const std::vector<double>& ref, const ConvGeometry& s) {
  double scale = 0, worst = 0;
  size_t worst_i = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::abs(got[i] - ref[i]) : INFINITY;
    if (e > worst || (std::isinf(e) && !std::isinf(worst))) worst = e, worst_i = i;
  }
  Comparison c;
  c.rel = worst / std::max(scale, 1e-30);
  const size_t k = worst_i % s.K, p = worst_i / s.K;
  c.where = fmt::format("worst at n {} oh {} ow {} k {}: got {} expected {:.7g} (max |ref| {:.4g})",
                        p / (static_cast<size_t>(s.OH) * s.OW), (p / s.OW) % s.OH, p % s.OW, k,
                        ref.empty() ? 0.0f : got[worst_i], ref.empty() ? 0.0 : ref[worst_i], scale);
  return c;
}

// ---- the sweep ----------------------------------------------------------------------------

struct SweepParam {
  std::string algorithm;
  std::string isa;
};

void PrintTo(const SweepParam& p, std::ostream* os) { *os << p.algorithm << "/" << p.isa; }

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (const std::string& a : conv_algorithm_names())
    for (const std::string& isa : cpu_isa_names()) v.push_back({a, isa});
  return v;
}

class ConvAlgorithmSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(ConvAlgorithmSweep, MatchesNaiveConvolution) {
  const SweepParam& param = GetParam();
  const ConvAlgorithm* algorithm = cpu::find_conv_algorithm(param.algorithm);
  ASSERT_NE(algorithm, nullptr) << param.algorithm;
  const cpu::SimdKernels& simd = cpu::simd_kernels(cpu::choose_isa(param.isa));
  ASSERT_STREQ(simd.isa, param.isa.c_str());
  const double tol = tolerance_for(param.algorithm);
  cpu::ThreadPool one(1), two(2);

  const std::vector<ConvCase> cases = cases_for(*algorithm);
  size_t checked = 0, with_residual = 0, failures = 0;
  double worst = 0;
  std::string worst_case;
  for (const ConvCase& c : cases) {
    const bool residual = c.residual && algorithm->fuses_residual();
    const ConvData d = make_data(c);
    const std::vector<double> ref = naive_conv(c, d, residual);
    for (cpu::ThreadPool* pool : {&one, &two}) {
      const Outcome o = run_algorithm(*algorithm, simd, c, d, residual, *pool, pool == &two ? 2 : 1);
      const Comparison cmp = compare(o.y, ref, c.s);
      if (cmp.rel > worst || std::isnan(cmp.rel)) {
        worst = cmp.rel;
        worst_case = describe(c);
      }
      if (!o.problem.empty() || !(cmp.rel <= tol)) {
        if (++failures <= 8)
          ADD_FAILURE() << param.algorithm << "/" << param.isa << " threads " << pool->threads() << " on "
                        << describe(c) << ": "
                        << (o.problem.empty() ? fmt::format("relative error {:.3g} > {:g}; {}", cmp.rel, tol, cmp.where)
                                              : o.problem);
      }
    }
    ++checked;
    with_residual += residual;
  }
  fmt::print("[ figures  ] conv {}/{}: {} shapes checked ({} with a residual), threads 1 and 2, max relative error "
             "{:.3g}{}\n",
             param.algorithm, param.isa, checked, with_residual, worst,
             worst_case.empty() ? "" : " on " + worst_case);
  RecordProperty("shapes_checked", static_cast<int>(checked));
  RecordProperty("max_relative_error", fmt::format("{:.3g}", worst));
  EXPECT_GE(checked, kMinShapes) << param.algorithm << " applies to too few of the random shapes";
  EXPECT_EQ(failures, 0u) << failures << " failing runs (the first 8 are listed above)";
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithmsAllIsas, ConvAlgorithmSweep, ::testing::ValuesIn(sweep_params()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           std::string name = info.param.algorithm + "_" + info.param.isa;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// ---- applicability ------------------------------------------------------------------------

// Shapes at the edges of the families, beside the random ones.
std::vector<ConvGeometry> edge_shapes() {
  auto make = [](int C, int K, int group, int KH, int KW, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr) {
    ConvGeometry s;
    s.N = 1, s.H = 9, s.W = 7, s.C = C, s.K = K, s.group = group, s.KH = KH, s.KW = KW, s.sh = sh, s.sw = sw, s.dh = dh,
    s.dw = dw, s.pt = pt, s.pl = pl, s.pb = pb, s.pr = pr;
    s.OH = out_size(s.H, KH, sh, dh, pt, pb), s.OW = out_size(s.W, KW, sw, dw, pl, pr);
    return s;
  };
  return {
      make(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),   // 1 channel: dense, pointwise and depthwise at once
      make(1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),   // 1 channel 3×3: dense and depthwise
      make(8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),   // depthwise
      make(8, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  // channel multiplier 2: grouped, not depthwise
      make(8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),   // grouped
      make(8, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0),   // 1×1 with padding: not pointwise
      make(8, 8, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0),   // strided 1×1: pointwise
      make(8, 8, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),   // grouped 1×1: pointwise
      make(8, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1),   // strided 3×3
      make(8, 8, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),   // dilated 3×3
      make(8, 8, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0),   // 3×1
  };
}

TEST(ConvAlgorithms, RegistryIsWellFormed) {
  const auto& all = cpu::conv_algorithms();
  ASSERT_FALSE(all.empty());
  std::set<std::string> names;
  for (const ConvAlgorithm* a : all) {
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(names.insert(a->name()).second) << "two algorithms are called " << a->name();
    EXPECT_EQ(cpu::find_conv_algorithm(a->name()), a) << a->name();
    for (char ch : std::string(a->name()))
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')
          << "'" << a->name() << "' cannot be written as fixed:NAME on a command line";
  }
  EXPECT_EQ(cpu::find_conv_algorithm("nope"), nullptr);
  for (const char* known : {"gemm1x1", "im2col", "im2win", "direct", "depthwise"})
    EXPECT_TRUE(names.count(known)) << known << " is not registered";
}

TEST(ConvAlgorithms, ApplicabilityClaimsAreConsistent) {
  std::vector<ConvGeometry> shapes = edge_shapes();
  for (const ConvCase& c : base_cases()) shapes.push_back(c.s);
  cpu::MachineModel machine;
  for (const ConvGeometry& s : shapes) {
    int usable = 0, fusing = 0;
    for (const ConvAlgorithm* a : cpu::conv_algorithms()) {
      const std::string name = a->name();
      const bool applies = a->applicable(s);
      EXPECT_EQ(applies, a->applicable(s)) << name << ": applicable() changed its answer on [" << s.key() << "]";
      if (name == "depthwise") {
        EXPECT_EQ(applies, s.is_depthwise()) << name << " on [" << s.key() << "]";
      }
      if (name == "gemm1x1") {
        EXPECT_EQ(applies, s.is_pointwise()) << name << " on [" << s.key() << "]";
      }
      if (name == "direct") {
        EXPECT_TRUE(applies) << "direct claims every shape; not [" << s.key() << "]";
      }
      if (starts_with(name, "im2col") || starts_with(name, "im2win")) {
        EXPECT_TRUE(!applies || s.group == 1) << name << " packs all channels as one group; [" << s.key() << "]";
      }
      if (starts_with(name, "winograd")) {
        EXPECT_TRUE(!applies || (s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1))
            << name << " (unit-stride, undilated transform) claims [" << s.key() << "]";
      }
      if (!applies) continue;
      ++usable;
      fusing += a->fuses_residual();
      for (int threads : {1, 4}) {
        machine.threads = threads;
        const double ms = a->cost_ms(s, machine);
        EXPECT_TRUE(std::isfinite(ms) && ms > 0) << name << " cost " << ms << " ms on [" << s.key() << "]";
      }
    }
    EXPECT_GE(usable, 1) << "no algorithm applies to [" << s.key() << "]";
    EXPECT_GE(fusing, 1) << "no residual-fusing algorithm applies to [" << s.key() << "]";
  }
}

// The random families really produce what the sweep claims to cover.
TEST(ConvAlgorithms, RandomShapesCoverTheRequestedRanges) {
  std::set<int> channels, kernels, strides, dilations, groups, batches, spatial;
  std::set<uint8_t> acts;
  int depthwise = 0, pointwise = 0, asymmetric = 0, non_square = 0, residual = 0, bias = 0, odd_channels = 0;
  int wide_depthwise = 0;
  for (int i = 0; i < kBaseShapes; ++i) {
    const ConvCase& c = base_cases()[static_cast<size_t>(i)];
    const ConvGeometry& s = c.s;
    channels.insert(s.C), channels.insert(s.K);
    kernels.insert(s.KH), kernels.insert(s.KW);
    strides.insert(s.sh), strides.insert(s.sw);
    dilations.insert(s.dh), dilations.insert(s.dw);
    groups.insert(s.is_depthwise() && s.C > 1 ? -1 : s.group);
    batches.insert(s.N);
    spatial.insert(s.H), spatial.insert(s.W);
    acts.insert(c.act.kind);
    depthwise += s.is_depthwise();
    pointwise += s.is_pointwise();
    asymmetric += s.pt != s.pb || s.pl != s.pr;
    non_square += s.KH != s.KW;
    residual += c.residual;
    bias += c.bias;
    odd_channels += s.C % 4 != 0;
    // Up to 67 channels, or 200 for the wide depthwise draws.
    const int most = s.is_depthwise() ? 200 : 67;
    EXPECT_TRUE(s.C >= 1 && s.C <= most && s.K >= 1 && s.K <= most) << s.key();
    wide_depthwise += s.is_depthwise() && s.C >= 64;
    EXPECT_TRUE(s.H >= 1 && s.H <= 19 && s.W >= 1 && s.W <= 19) << s.key();
  }
  for (int k : {1, 3, 5, 7}) EXPECT_TRUE(kernels.count(k)) << "kernel " << k;
  for (int v : {1, 2}) EXPECT_TRUE(strides.count(v) && dilations.count(v) && batches.count(v)) << v;
  for (int g : {1, 2, 3, -1}) EXPECT_TRUE(groups.count(g)) << "group " << g << " (-1: depthwise)";
  for (int c : {1, 67}) EXPECT_TRUE(channels.count(c)) << "channels " << c;
  for (int h : {1, 19}) EXPECT_TRUE(spatial.count(h)) << "spatial " << h;
  EXPECT_EQ(acts.size(), 8u) << "every activation kind";
  EXPECT_GE(depthwise, 20);
  EXPECT_GE(wide_depthwise, 5);
  EXPECT_GE(pointwise, 20);
  EXPECT_GE(asymmetric, 20);
  EXPECT_GE(non_square, 20);
  EXPECT_GE(residual, 40);
  EXPECT_GE(bias, 40);
  EXPECT_GE(odd_channels, 60);
}

// The oracle itself: the naive NHWC convolution agrees with the reference
// backend's Conv (run as a one-node NCHW graph) on a few of the cases.
TEST(ConvAlgorithms, NaiveOracleAgreesWithTheReferenceBackend) {
  int compared = 0;
  for (size_t i = 0; i < base_cases().size(); i += 7) {
    ConvCase c = base_cases()[i];
    const ConvGeometry& s = c.s;
    const ConvData d = make_data(c);
    const std::vector<double> ref = naive_conv(c, d, false);
    GraphBuilder b;
    const TensorId x = b.input("x", {s.N, s.C, s.H, s.W});
    std::vector<TensorId> ins{x, b.constant("w", {s.K, s.cin_per_group(), s.KH, s.KW}, d.w)};
    if (c.bias) ins.push_back(b.constant("b", {s.K}, d.bias));
    b.output(b.node(OpType::Conv, ins,
                    conv_attrs({s.KH, s.KW}, {s.sh, s.sw}, {s.pt, s.pl, s.pb, s.pr}, {s.dh, s.dw}, s.group,
                               act(static_cast<K>(c.act.kind), c.act.alpha, c.act.beta))));
    Tensor xt({s.N, s.C, s.H, s.W});
    for (int n = 0; n < s.N; ++n)
      for (int ch = 0; ch < s.C; ++ch)
        for (int h = 0; h < s.H; ++h)
          for (int w = 0; w < s.W; ++w)
            xt.data()[((static_cast<size_t>(n) * s.C + ch) * s.H + h) * s.W + w] =
                d.x[((static_cast<size_t>(n) * s.H + h) * s.W + w) * s.C + ch];
    const Tensor y = run_graph(b.build(), {xt}).front();
    ASSERT_EQ(y.shape(), (Shape{s.N, s.K, s.OH, s.OW})) << describe(c);
    std::vector<float> nhwc(ref.size());
    for (int n = 0; n < s.N; ++n)
      for (int k = 0; k < s.K; ++k)
        for (int p = 0; p < s.OH * s.OW; ++p)
          nhwc[(static_cast<size_t>(n) * s.OH * s.OW + p) * s.K + k] =
              y.data()[(static_cast<size_t>(n) * s.K + k) * s.OH * s.OW + p];
    const Comparison cmp = compare(nhwc, ref, s);
    EXPECT_LE(cmp.rel, 1e-4) << describe(c) << ": " << cmp.where;  // float sums vs double
    ++compared;
  }
  EXPECT_GE(compared, 20);
}

}  // namespace
}  // namespace kiln::test
