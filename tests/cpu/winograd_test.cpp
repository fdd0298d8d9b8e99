// The Winograd F(4×4, 3×3) convolution against the direct one, on random
// shapes (edge tiles, asymmetric and oversized pads, batches), with bias,
// residual and every fused activation, at every ISA level and 1 or 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"

namespace kiln::cpu {
namespace {

std::vector<float> run_conv(const ConvAlgorithm& a, const ConvLayer& l, const std::vector<float>& x,
                            const float* residual, ThreadPool& pool) {
  auto kernel = a.prepare(l);
  std::vector<float> ws(kernel->workspace_bytes() / sizeof(float) + 1);
  std::vector<float> y(static_cast<size_t>(l.shape.output_pixels()) * l.shape.K, NAN);
  kernel->run({x.data(), y.data(), residual, ws.data(), &pool});
  return y;
}

ConvGeometry shape_3x3(int N, int H, int W, int C, int K, int pt, int pl, int pb, int pr) {
  ConvGeometry s;
  s.N = N, s.H = H, s.W = W, s.C = C, s.K = K;
  s.KH = s.KW = 3;
  s.pt = pt, s.pl = pl, s.pb = pb, s.pr = pr;
  s.OH = H + pt + pb - 2;
  s.OW = W + pl + pr - 2;
  return s;
}

// Largest |a - b| relative to the largest |b|.
double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::isnan(a[i]) ? INFINITY : std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return err / std::max(scale, 1e-6);
}

// F(4,3) keeps the name "winograd" (tuning caches and fixed:winograd).
const char* const kVariants[] = {"winograd_f23", "winograd", "winograd_f63"};

TEST(Winograd, Applicability) {
  for (const char* name : kVariants) {
    SCOPED_TRACE(name);
    const ConvAlgorithm* w = find_conv_algorithm(name);
    ASSERT_NE(w, nullptr);
    ConvGeometry s = shape_3x3(1, 8, 8, 4, 4, 1, 1, 1, 1);
    EXPECT_TRUE(w->applicable(s));
    EXPECT_TRUE(w->fuses_residual());
    ConvGeometry strided = s;
    strided.sh = 2;
    EXPECT_FALSE(w->applicable(strided));
    ConvGeometry dilated = s;
    dilated.dw = 2;
    EXPECT_FALSE(w->applicable(dilated));
    ConvGeometry grouped = s;
    grouped.group = 2;
    EXPECT_FALSE(w->applicable(grouped));
    ConvGeometry five = s;
    five.KH = five.KW = 5;
    EXPECT_FALSE(w->applicable(five));
  }
}

TEST(Winograd, MatchesDirect) {
  for (const char* name : kVariants) {
    const ConvAlgorithm* wino = find_conv_algorithm(name);
    const ConvAlgorithm* direct = find_conv_algorithm("direct");
    ASSERT_NE(wino, nullptr);
    ASSERT_NE(direct, nullptr);
    std::mt19937 rng(7);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::uniform_real_distribution<float> val(-1.f, 1.f);
    const Activation acts[] = {{0, 0, 0}, {1, 0, 0},       {2, -0.5f, 0.7f}, {3, 0.1f, 0},
                               {4, 0, 0}, {5, 0.2f, 0.5f}, {6, 0, 0},        {7, 0, 0}};
    for (Isa isa : supported_isas()) {
      double worst = 0;
      for (int threads : {1, 2}) {
        ThreadPool pool(threads);
        for (int trial = 0; trial < 40; ++trial) {
          const int N = uni(1, 2), H = uni(1, 23), W = uni(1, 23), C = uni(1, 67), K = uni(1, 67);
          int pt = uni(0, 2), pl = uni(0, 2), pb = uni(0, 2), pr = uni(0, 2);
          // The output needs at least one row and column.
          while (H + pt + pb < 3) ++pb;
          while (W + pl + pr < 3) ++pr;
          ConvGeometry s = shape_3x3(N, H, W, C, K, pt, pl, pb, pr);
          std::vector<float> x(static_cast<size_t>(N) * H * W * C), w(static_cast<size_t>(K) * C * 9), bias(K);
          std::vector<float> res(static_cast<size_t>(s.output_pixels()) * K);
          for (float& v : x) v = val(rng);
          for (float& v : w) v = val(rng);
          for (float& v : bias) v = val(rng);
          for (float& v : res) v = val(rng);
          const bool with_bias = trial % 3 != 0, with_res = trial % 2 == 0;
          ConvLayer l{s, w.data(), with_bias ? bias.data() : nullptr, acts[trial % 8], &simd_kernels(isa), threads};
          const float* r = with_res ? res.data() : nullptr;
          const auto want = run_conv(*direct, l, x, r, pool);
          const auto got = run_conv(*wino, l, x, r, pool);
          const double e = rel_error(got, want);
          worst = std::max(worst, e);
          EXPECT_LT(e, 1e-3) << name << " " << isa_name(isa) << " threads " << threads << " " << s.key() << " act "
                             << int(l.act.kind) << " bias " << with_bias << " residual " << with_res;
        }
      }
      std::printf("%s vs direct, %s: max relative error %.3g\n", name, isa_name(isa), worst);
    }
  }
}

// Large channel counts (several K blocks of the GEMM, several panel groups)
// and the same bits for 1 and 3 threads.
TEST(Winograd, LargeChannelsAndThreadInvariance) {
  for (const char* name : kVariants) {
    const ConvAlgorithm* wino = find_conv_algorithm(name);
    const ConvAlgorithm* direct = find_conv_algorithm("direct");
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> val(-1.f, 1.f);
    for (Isa isa : supported_isas()) {
      ConvGeometry s = shape_3x3(1, 14, 13, 200, 300, 1, 1, 1, 1);
      std::vector<float> x(static_cast<size_t>(s.H) * s.W * s.C), w(static_cast<size_t>(s.K) * s.C * 9), bias(s.K);
      for (float& v : x) v = val(rng);
      for (float& v : w) v = val(rng);
      for (float& v : bias) v = val(rng);
      ThreadPool one(1), three(3);
      ConvLayer l1{s, w.data(), bias.data(), {1, 0, 0}, &simd_kernels(isa), 1};
      ConvLayer l3 = l1;
      l3.threads = 3;
      const auto want = run_conv(*direct, l1, x, nullptr, one);
      const auto a = run_conv(*wino, l1, x, nullptr, one);
      const auto b = run_conv(*wino, l3, x, nullptr, three);
      const double e = rel_error(a, want);
      std::printf("%s vs direct, %s, %s: relative error %.3g\n", name, isa_name(isa), s.key().c_str(), e);
      EXPECT_LT(e, 1e-3) << name << " " << isa_name(isa);
      EXPECT_EQ(a, b) << name << " " << isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace kiln::cpu
