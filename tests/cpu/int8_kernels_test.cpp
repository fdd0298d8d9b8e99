// The CPU backend's int8 kernels (kernels/cpu/simd/int8_kernels.hpp) at every
// ISA level this machine supports, against a scalar oracle written here from
// the rule in engine/core/quantization.hpp: straight loops, int64 sums
// (asserted to fit int32, the kernels' contract), then the rule's scalar
// requantization. Every byte must be equal, which makes every level equal to
// every other.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/core/quantization.hpp"
#include "kernels/cpu/isa.hpp"

namespace kiln::test {
namespace {

using cpu::Int8Kernels;
using cpu::Isa;
using cpu::QAddParams;
using cpu::QDepthwiseArgs;
using cpu::QGemmArgs;
using cpu::Requant;

std::vector<Isa> levels() { return cpu::supported_isas(); }

int32_t to_int32(int64_t v) {
  EXPECT_GE(v, std::numeric_limits<int32_t>::min());
  EXPECT_LE(v, std::numeric_limits<int32_t>::max());
  return static_cast<int32_t>(v);
}

// Bytes whose end touches an inaccessible page, so that a kernel reading past
// the last byte it was given crashes instead of passing by luck.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t n) : n_(n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    map_size_ = (n + page - 1) / page * page + page;
    void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    map_ = static_cast<uint8_t*>(m);
    EXPECT_EQ(mprotect(map_ + map_size_ - page, page, PROT_NONE), 0);
    data_ = map_ + map_size_ - page - n;
  }
  ~GuardedBytes() { munmap(map_, map_size_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  uint8_t* data() { return data_; }
  size_t size() const { return n_; }

 private:
  size_t n_, map_size_;
  uint8_t* map_;
  uint8_t* data_;
};

struct AlignedBytes {
  explicit AlignedBytes(size_t n) : v(n + 64) {}
  void* data() {
    auto p = reinterpret_cast<uintptr_t>(v.data());
    return v.data() + ((64 - p % 64) % 64);
  }
  std::vector<uint8_t> v;
};

// A requantization with multipliers that map accumulators up to max_abs onto
// about ±spread around the zero point (so that results cover the whole range,
// clamping and ties included), and a random zero point and clamp.
struct RqSetup {
  std::vector<float> multipliers;
  Requant rq;
};

RqSetup random_requant(std::mt19937& rng, int channels, bool per_channel, int64_t max_abs, float spread = 300) {
  RqSetup s;
  const int n = per_channel ? channels : 1;
  std::uniform_real_distribution<float> factor(0.25f, 1.5f);
  for (int i = 0; i < n; ++i)
    s.multipliers.push_back(spread / static_cast<float>(std::max<int64_t>(max_abs, 1)) * factor(rng));
  const int zps[] = {0, 128, 255, 3, 77};
  s.rq.multiplier = s.multipliers.data();
  s.rq.per_channel = per_channel;
  s.rq.zero_point = zps[rng() % 5];
  switch (rng() % 3) {
    case 0:
      s.rq.lo = 0, s.rq.hi = 255;
      break;
    case 1:
      s.rq.lo = s.rq.zero_point, s.rq.hi = 255;
      break;  // Relu
    default:  // Relu6-like Clip
      s.rq.lo = s.rq.zero_point;
      s.rq.hi = std::min(255, s.rq.zero_point + static_cast<int>(rng() % 100));
  }
  return s;
}

float multiplier_of(const Requant& rq, int c) { return rq.multiplier[rq.per_channel ? c : 0]; }

// ---- GEMM ---------------------------------------------------------------------------------
struct GemmCase {
  int M, N, K;
  size_t lda, ldc;
  std::vector<uint8_t> a;     // M rows of lda (bytes past K random)
  std::vector<int8_t> w8;     // [N][K]
  std::vector<int32_t> bias;  // [N]
  std::vector<int32_t> coef;  // [N] or empty
  RqSetup rq;
};

std::vector<int64_t> gemm_acc(const GemmCase& g) {
  std::vector<int64_t> acc(static_cast<size_t>(g.M) * g.N);
  for (int m = 0; m < g.M; ++m) {
    int64_t rowsum = 0;
    for (int k = 0; k < g.K; ++k) rowsum += g.a[m * g.lda + k];
    for (int n = 0; n < g.N; ++n) {
      int64_t s = g.bias[n];
      for (int k = 0; k < g.K; ++k) s += int64_t{g.a[m * g.lda + k]} * g.w8[static_cast<size_t>(n) * g.K + k];
      if (!g.coef.empty()) s += int64_t{g.coef[n]} * rowsum;
      acc[static_cast<size_t>(m) * g.N + n] = s;
    }
  }
  return acc;
}

std::vector<uint8_t> gemm_oracle(const GemmCase& g, const std::vector<int64_t>& acc) {
  std::vector<uint8_t> c(static_cast<size_t>(g.M) * g.N);
  const Requant& rq = g.rq.rq;
  for (int m = 0; m < g.M; ++m)
    for (int n = 0; n < g.N; ++n) {
      const int32_t a = to_int32(acc[static_cast<size_t>(m) * g.N + n]);
      c[static_cast<size_t>(m) * g.N + n] =
          static_cast<uint8_t>(quant::requantize(a, multiplier_of(rq, n), rq.zero_point, rq.lo, rq.hi));
    }
  return c;
}

// Runs the case at every level; the output has guard bytes between rows (ldc > N) and after the end.
void check_gemm(GemmCase& g, const std::string& what) {
  const std::vector<int64_t> acc = gemm_acc(g);
  const std::vector<uint8_t> expected = gemm_oracle(g, acc);
  GuardedBytes a((g.M - 1) * g.lda + g.K);  // the last row ends at an inaccessible page
  std::memcpy(a.data(), g.a.data(), a.size());
  for (Isa isa : levels()) {
    SCOPED_TRACE(what + " at " + cpu::isa_name(isa));
    const Int8Kernels& kern = cpu::int8_kernels(isa);
    EXPECT_STREQ(kern.isa, cpu::isa_name(isa));
    const size_t bytes = kern.packed_b_size(g.N, g.K);
    EXPECT_EQ(bytes % 64, 0u);
    AlignedBytes packed(bytes);
    kern.pack_b(g.w8.data(), g.N, g.K, packed.data());
    constexpr uint8_t kGuard = 0xA5;
    std::vector<uint8_t> c(static_cast<size_t>(g.M) * g.ldc + 64, kGuard);
    QGemmArgs args;
    args.a = a.data();
    args.lda = g.lda;
    args.M = g.M, args.N = g.N, args.K = g.K;
    args.b = packed.data();
    args.bias = g.bias.data();
    args.row_coef = g.coef.empty() ? nullptr : g.coef.data();
    args.c = c.data();
    args.ldc = g.ldc;
    args.rq = g.rq.rq;
    kern.gemm(args);
    int mismatches = 0;
    for (int m = 0; m < g.M && mismatches < 5; ++m) {
      for (int n = 0; n < g.N && mismatches < 5; ++n) {
        const uint8_t got = c[m * g.ldc + n], want = expected[static_cast<size_t>(m) * g.N + n];
        if (got != want) {
          ++mismatches;
          ADD_FAILURE() << "C[" << m << "][" << n << "] = " << int{got} << ", expected " << int{want} << " (acc "
                        << acc[static_cast<size_t>(m) * g.N + n] << ")";
        }
      }
      for (size_t n = g.N; n < g.ldc; ++n) EXPECT_EQ(c[m * g.ldc + n], kGuard) << "row " << m << " gap";
    }
    for (size_t i = g.M * g.ldc; i < c.size(); ++i) EXPECT_EQ(c[i], kGuard) << "past the end";
  }
}

enum class Fill { Random, AllMax, AllMin, Alternating };

GemmCase make_gemm(std::mt19937& rng, int M, int N, int K, size_t lda_extra, bool coef, bool per_channel,
                   Fill fill = Fill::Random) {
  GemmCase g;
  g.M = M, g.N = N, g.K = K;
  g.lda = K + lda_extra;
  g.ldc = N + rng() % 5;
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), d(-127, 128), bias(-(1 << 20), 1 << 20);
  g.a.resize((M - 1) * g.lda + K);
  for (auto& v : g.a) v = fill == Fill::Random ? static_cast<uint8_t>(u8(rng)) : 255;
  g.w8.resize(static_cast<size_t>(N) * K);
  for (size_t i = 0; i < g.w8.size(); ++i) {
    switch (fill) {
      case Fill::Random:
        g.w8[i] = static_cast<int8_t>(s8(rng));
        break;
      case Fill::AllMax:
        g.w8[i] = 127;
        break;
      case Fill::AllMin:
        g.w8[i] = -128;
        break;
      case Fill::Alternating:
        g.w8[i] = (i % 2) ? 127 : -128;
        break;
    }
  }
  for (int n = 0; n < N; ++n) g.bias.push_back(fill == Fill::Random ? bias(rng) : 0);
  if (coef)
    for (int n = 0; n < N; ++n) g.coef.push_back(fill == Fill::Random ? d(rng) : (n % 2 ? 128 : -127));
  int64_t max_abs = 1;
  for (int64_t v : gemm_acc(g)) max_abs = std::max(max_abs, v < 0 ? -v : v);
  g.rq = random_requant(rng, N, per_channel, max_abs);
  return g;
}

TEST(CpuInt8Kernels, LevelsAreNamedAndOrdered) {
  const std::vector<Isa> isas = levels();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::Generic);
  for (size_t i = 0; i < isas.size(); ++i) EXPECT_EQ(static_cast<int>(isas[i]), static_cast<int>(i));
  EXPECT_STREQ(cpu::isa_name(Isa::Avx512Vnni), "avx512_vnni");
  EXPECT_EQ(cpu::choose_isa("generic"), Isa::Generic);
}

TEST(CpuInt8Kernels, GemmFixedShapes) {
  std::mt19937 rng(1234);
  struct Shape {
    int M, N, K;
    size_t lda_extra;
  };
  const Shape shapes[] = {
      {1, 1, 1, 0},    {1, 16, 27, 0},   {2, 3, 2, 1},       {3, 5, 7, 0},     {7, 33, 2, 3},    {8, 48, 4, 0},
      {9, 49, 5, 0},   {17, 17, 3, 0},   {13, 144, 24, 0},   {25, 192, 32, 5}, {16, 64, 960, 0}, {5, 100, 960, 7},
      {33, 97, 61, 0}, {64, 96, 16, 0},  {12, 1280, 320, 0}, {100, 24, 27, 0}, {31, 47, 6, 2},   {1, 1280, 960, 0},
      {50, 16, 1, 0},  {300, 40, 13, 1}, {9, 32, 8, 0},      {24, 31, 9, 0},   {15, 65, 63, 64}, {10, 8, 1000, 0},
  };
  int i = 0;
  for (const Shape& s : shapes) {
    for (int variant = 0; variant < 4; ++variant) {
      GemmCase g = make_gemm(rng, s.M, s.N, s.K, s.lda_extra, variant & 1, variant & 2);
      check_gemm(g, "fixed shape " + std::to_string(i) + " (" + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                        std::to_string(s.K) + ") variant " + std::to_string(variant));
    }
    ++i;
  }
}

TEST(CpuInt8Kernels, GemmRandomShapes) {
  std::mt19937 rng(99);
  for (int i = 0; i < 60; ++i) {
    const int M = 1 + static_cast<int>(rng() % 70), N = 1 + static_cast<int>(rng() % 150);
    const int K = 1 + static_cast<int>(rng() % (i % 4 == 0 ? 1000 : 100));
    GemmCase g = make_gemm(rng, M, N, K, rng() % 9, rng() % 2, rng() % 2);
    check_gemm(g, "random shape " + std::to_string(i) + " (" + std::to_string(M) + "x" + std::to_string(N) + "x" +
                      std::to_string(K) + ")");
  }
}

// 255 × −128 and 255 × 127 everywhere: an int16 pair sum of these saturates
// (vpmaddubsw), and K = 960 takes the sums near ±2^25.
TEST(CpuInt8Kernels, GemmExtremeValues) {
  std::mt19937 rng(7);
  for (Fill fill : {Fill::AllMax, Fill::AllMin, Fill::Alternating})
    for (int K : {4, 7, 960, 961})
      for (bool coef : {false, true}) {
        GemmCase g = make_gemm(rng, 11, 50, K, 0, coef, true, fill);
        check_gemm(g, "extreme fill " + std::to_string(static_cast<int>(fill)) + " K " + std::to_string(K));
      }
}

// Without vpdpbusd, the avx2 and avx512 levels use vpmaddubsw, whose int16 pair
// sums saturate unless the pair's positive weights sum to at most 128 and its
// negative ones to at least −128; pack_b splits the other pairs into a safe
// main part and a fix part added in a second pass over the groups that need
// one. Small weights (no fix) next to single unsafe pairs, pairs at the
// boundary (±128 safe, ±129 not), the partial last group and several panels,
// with activations at 255 where saturation would show.
TEST(CpuInt8Kernels, GemmPairSaturationBoundary) {
  std::mt19937 rng(21);
  const int pairs[][2] = {{64, 64},   {64, 65},   {127, 1},    {127, 2},     {127, 127},  {-64, -64},
                          {-64, -65}, {-128, 0},  {-128, -1},  {-128, -128}, {127, -128}, {1, 127},
                          {-1, -127}, {100, 100}, {-100, -29}, {-100, -28},  {0, 0}};
  for (int K : {4, 6, 27, 64, 99, 320})
    for (int N : {5, 16, 50, 100})
      for (bool full_a : {true, false}) {
        GemmCase g = make_gemm(rng, 13, N, K, 3, (K + N) % 2 == 0, true);
        std::uniform_int_distribution<int> small(-40, 40);
        for (auto& w : g.w8) w = static_cast<int8_t>(small(rng));
        if (full_a)
          for (auto& v : g.a) v = rng() % 8 == 0 ? static_cast<uint8_t>(rng() % 256) : 255;
        // A few boundary pairs at random even k (the partial last group included), in a few columns.
        const int count = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < count; ++i) {
          const int n = static_cast<int>(rng() % N), k = 2 * static_cast<int>(rng() % ((K + 1) / 2));
          const auto& p = pairs[rng() % (sizeof pairs / sizeof pairs[0])];
          g.w8[static_cast<size_t>(n) * K + k] = static_cast<int8_t>(p[0]);
          if (k + 1 < K) g.w8[static_cast<size_t>(n) * K + k + 1] = static_cast<int8_t>(p[1]);
        }
        // Column 0 carries every boundary pair when K allows.
        for (int i = 0; 2 * i + 1 < K && i < static_cast<int>(sizeof pairs / sizeof pairs[0]); ++i) {
          g.w8[2 * i] = static_cast<int8_t>(pairs[i][0]);
          g.w8[2 * i + 1] = static_cast<int8_t>(pairs[i][1]);
        }
        int64_t max_abs = 1;
        for (int64_t v : gemm_acc(g)) max_abs = std::max(max_abs, v < 0 ? -v : v);
        g.rq = random_requant(rng, N, true, max_abs);
        check_gemm(g, "pair boundary K " + std::to_string(K) + " N " + std::to_string(N) +
                          (full_a ? " a mostly 255" : " a random"));
      }
}

// Multipliers that are powers of two make exact .5 results common: ties go to even.
TEST(CpuInt8Kernels, GemmTiesToEven) {
  std::mt19937 rng(11);
  for (float m : {0.5f, 0.25f, 0.125f}) {
    GemmCase g = make_gemm(rng, 20, 37, 3, 0, false, false);
    std::uniform_int_distribution<int> small(-2, 2);
    for (auto& w : g.w8) w = static_cast<int8_t>(small(rng));
    for (auto& b : g.bias) b = small(rng);
    for (auto& v : g.a) v = static_cast<uint8_t>(rng() % 4);
    g.rq.multipliers = {m};
    g.rq.rq.multiplier = g.rq.multipliers.data();
    g.rq.rq.per_channel = false;
    g.rq.rq.zero_point = 128, g.rq.rq.lo = 0, g.rq.rq.hi = 255;
    check_gemm(g, "ties, multiplier " + std::to_string(m));
  }
}

// ---- depthwise ----------------------------------------------------------------------------
struct DwShape {
  int H, W, C, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
};

// Random: x, w, zx uniform. Extreme: x in {0, 255}, w in {−255, 255}, zx in {0, 255}.
// Max / Min: x = 255, zx = 0, w = 255 / −255 everywhere (the largest sums of either sign).
enum class DwFill { Random, Extreme, Max, Min };

// Rows are computed in three calls (the middle range first), or one call per
// row in a shuffled order when single_rows.
void check_depthwise(std::mt19937& rng, const DwShape& s, bool per_channel, const std::string& what,
                     DwFill fill = DwFill::Random, bool single_rows = false) {
  const int OH = (s.H + s.pt + s.pb - s.dh * (s.KH - 1) - 1) / s.sh + 1;
  const int OW = (s.W + s.pl + s.pr - s.dw * (s.KW - 1) - 1) / s.sw + 1;
  ASSERT_GT(OH, 0);
  ASSERT_GT(OW, 0);
  std::uniform_int_distribution<int> u8(0, 255), w(-255, 255), bias(-(1 << 16), 1 << 16);
  GuardedBytes x(static_cast<size_t>(s.H) * s.W * s.C);
  std::vector<int16_t> wt(static_cast<size_t>(s.KH) * s.KW * s.C);
  std::vector<int32_t> b(s.C);
  int32_t zx = 0;
  switch (fill) {
    case DwFill::Random:
      for (size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<uint8_t>(u8(rng));
      for (auto& v : wt) v = static_cast<int16_t>(w(rng));
      for (auto& v : b) v = bias(rng);
      zx = u8(rng);
      break;
    case DwFill::Extreme:
      for (size_t i = 0; i < x.size(); ++i) x.data()[i] = rng() % 2 ? 255 : 0;
      for (auto& v : wt) v = rng() % 2 ? 255 : -255;
      for (auto& v : b) v = bias(rng);
      zx = rng() % 2 ? 255 : 0;
      break;
    case DwFill::Max:
    case DwFill::Min:
      for (size_t i = 0; i < x.size(); ++i) x.data()[i] = 255;
      for (auto& v : wt) v = fill == DwFill::Max ? 255 : -255;
      break;
  }

  std::vector<int64_t> acc(static_cast<size_t>(OH) * OW * s.C);
  int64_t max_abs = 1;
  for (int oh = 0; oh < OH; ++oh)
    for (int ow = 0; ow < OW; ++ow)
      for (int c = 0; c < s.C; ++c) {
        int64_t sum = b[c];
        for (int kh = 0; kh < s.KH; ++kh)
          for (int kw = 0; kw < s.KW; ++kw) {
            const int ih = oh * s.sh - s.pt + kh * s.dh, iw = ow * s.sw - s.pl + kw * s.dw;
            if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;  // reads as zx: (zx − zx)·w = 0
            sum += (int64_t{x.data()[(static_cast<size_t>(ih) * s.W + iw) * s.C + c]} - zx) *
                   wt[(static_cast<size_t>(kh) * s.KW + kw) * s.C + c];
          }
        acc[(static_cast<size_t>(oh) * OW + ow) * s.C + c] = sum;
        max_abs = std::max(max_abs, sum < 0 ? -sum : sum);
      }
  const RqSetup rq = random_requant(rng, s.C, per_channel, max_abs);
  std::vector<uint8_t> expected(acc.size());
  for (size_t i = 0; i < acc.size(); ++i)
    expected[i] = static_cast<uint8_t>(
        quant::requantize(to_int32(acc[i]), multiplier_of(rq.rq, i % s.C), rq.rq.zero_point, rq.rq.lo, rq.rq.hi));

  for (Isa isa : levels()) {
    SCOPED_TRACE(what + " at " + cpu::isa_name(isa));
    constexpr uint8_t kGuard = 0x5A;
    std::vector<uint8_t> y(expected.size() + 32, kGuard);
    QDepthwiseArgs a;
    a.x = x.data(), a.y = y.data(), a.w = wt.data(), a.bias = b.data(), a.x_zero_point = zx;
    a.H = s.H, a.W = s.W, a.C = s.C, a.OH = OH, a.OW = OW, a.KH = s.KH, a.KW = s.KW;
    a.sh = s.sh, a.sw = s.sw, a.dh = s.dh, a.dw = s.dw, a.pt = s.pt, a.pl = s.pl;
    a.rq = rq.rq;
    const size_t row = static_cast<size_t>(OW) * s.C;
    if (single_rows) {
      std::vector<int> order(OH);
      for (int r = 0; r < OH; ++r) order[r] = r;
      std::shuffle(order.begin(), order.end(), rng);
      for (int r : order) {
        a.oh_begin = r, a.oh_end = r + 1;
        cpu::int8_kernels(isa).depthwise(a);
      }
    } else {
      // Rows in three calls, the middle range first; each writes only its rows.
      const int cut1 = OH / 3, cut2 = std::max(cut1, 2 * OH / 3);
      a.oh_begin = cut1, a.oh_end = cut2;
      cpu::int8_kernels(isa).depthwise(a);
      for (size_t i = 0; i < y.size(); ++i) {
        if (i < cut1 * row || i >= cut2 * row) {
          ASSERT_EQ(y[i], kGuard) << "byte " << i << " outside rows written";
        }
      }
      a.oh_begin = 0, a.oh_end = cut1;
      cpu::int8_kernels(isa).depthwise(a);
      a.oh_begin = cut2, a.oh_end = OH;
      cpu::int8_kernels(isa).depthwise(a);
    }
    int mismatches = 0;
    for (size_t i = 0; i < expected.size() && mismatches < 5; ++i)
      if (y[i] != expected[i]) {
        ++mismatches;
        ADD_FAILURE() << "y[" << i / row << "][" << i % row / s.C << "][" << i % s.C << "] = " << int{y[i]}
                      << ", expected " << int{expected[i]};
      }
    for (size_t i = expected.size(); i < y.size(); ++i) EXPECT_EQ(y[i], kGuard) << "past the end";
  }
}

TEST(CpuInt8Kernels, Depthwise) {
  std::mt19937 rng(2024);
  const DwShape shapes[] = {
      // H W C KH KW sh sw dh dw pt pl pb pr
      {8, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     {9, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {10, 11, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  {12, 12, 33, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {14, 14, 144, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {15, 13, 144, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {11, 9, 33, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},   {13, 13, 17, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},
      {9, 10, 16, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1},   {12, 10, 48, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {7, 9, 3, 3, 3, 1, 2, 2, 1, 0, 3, 1, 0},     {5, 5, 64, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 3, 96, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},    {1, 1, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {20, 6, 65, 3, 3, 2, 1, 1, 1, 1, 1, 0, 1},   {8, 8, 144, 5, 5, 2, 2, 2, 2, 4, 4, 4, 4},
      {6, 30, 7, 1, 3, 1, 2, 1, 2, 0, 2, 0, 2},    {16, 16, 80, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},
  };
  int i = 0;
  for (const DwShape& s : shapes) {
    check_depthwise(rng, s, true, "shape " + std::to_string(i));
    check_depthwise(rng, s, false, "shape " + std::to_string(i) + " per tensor");
    ++i;
  }
}

// The 3×3 stride 1 and 2 path: every padding of each side (0, 1, 2), images
// down to 1×1 (every output a border one) and wide enough for long interiors,
// channel counts around the vector widths (8, 16) with and without a
// remainder, many channels (several chunks of weights), extreme values, and
// single-row calls in any order.
TEST(CpuInt8Kernels, Depthwise3x3) {
  std::mt19937 rng(33);
  int i = 0;
  auto run = [&](const DwShape& s, DwFill fill, bool single_rows) {
    const std::string what = "3x3 case " + std::to_string(i++) + " (" + std::to_string(s.H) + "x" +
                             std::to_string(s.W) + "x" + std::to_string(s.C) + " s" + std::to_string(s.sh) + " pads " +
                             std::to_string(s.pt) + std::to_string(s.pl) + std::to_string(s.pb) + std::to_string(s.pr) +
                             " fill " + std::to_string(static_cast<int>(fill)) + ")";
    check_depthwise(rng, s, rng() % 2, what, fill, single_rows);
  };
  const int channels[] = {1, 7, 8, 9, 16, 17, 24, 31, 32, 33, 48, 63, 64, 96, 144};
  for (int stride : {1, 2})
    for (int pt = 0; pt <= 2; ++pt)
      for (int pl = 0; pl <= 2; ++pl)
        for (int pb = 0; pb <= 2; ++pb)
          for (int pr = 0; pr <= 2; ++pr) {
            const int H = 1 + static_cast<int>(rng() % 9), W = 1 + static_cast<int>(rng() % 12);
            if (H + pt + pb < 3 || W + pl + pr < 3) continue;
            const int C = channels[rng() % std::size(channels)];
            run({H, W, C, 3, 3, stride, stride, 1, 1, pt, pl, pb, pr}, DwFill::Random, rng() % 4 == 0);
          }
  const DwShape shapes[] = {
      // H W C KH KW sh sw dh dw pt pl pb pr
      {1, 1, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    {2, 2, 16, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {3, 3, 24, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},    {3, 3, 40, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},
      {4, 40, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {5, 41, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {6, 37, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},   {7, 7, 960, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {14, 14, 584, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, {14, 14, 600, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {9, 9, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    {24, 20, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {24, 20, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  {10, 10, 32, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1},
      {10, 10, 32, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1},  {10, 10, 32, 3, 3, 1, 1, 2, 1, 1, 2, 1, 2},
  };
  for (const DwShape& s : shapes)
    for (DwFill fill : {DwFill::Random, DwFill::Extreme, DwFill::Max, DwFill::Min}) {
      run(s, fill, false);
      if (fill == DwFill::Random) run(s, fill, true);
    }
}

// ---- element-wise -------------------------------------------------------------------------
TEST(CpuInt8Kernels, Add) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> u8(0, 255);
  std::uniform_real_distribution<float> m(0.05f, 3.0f);
  for (size_t n : {1, 3, 15, 16, 17, 31, 64, 100, 1000, 4099}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<uint8_t> a(n), b(n);
      for (auto& v : a) v = static_cast<uint8_t>(variant == 3 ? 255 : u8(rng));
      for (auto& v : b) v = static_cast<uint8_t>(variant == 3 ? 0 : u8(rng));
      QAddParams p;
      p.za = u8(rng), p.zb = u8(rng), p.zy = variant == 1 ? 0 : u8(rng);
      p.ma = variant == 2 ? 0.5f : m(rng), p.mb = variant == 2 ? 0.5f : m(rng);
      if (variant == 1) p.lo = 0, p.hi = 60;
      std::vector<uint8_t> expected(n);
      for (size_t i = 0; i < n; ++i)
        expected[i] = static_cast<uint8_t>(quant::add(a[i], p.za, p.ma, b[i], p.zb, p.mb, p.zy, p.lo, p.hi));
      for (Isa isa : levels()) {
        SCOPED_TRACE("n " + std::to_string(n) + " variant " + std::to_string(variant) + " at " + cpu::isa_name(isa));
        std::vector<uint8_t> y(n + 16, 0xEE);
        cpu::int8_kernels(isa).add(y.data(), a.data(), b.data(), n, p);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], expected[i]) << "element " << i;
        for (size_t i = n; i < y.size(); ++i) ASSERT_EQ(y[i], 0xEE);
      }
    }
  }
}

TEST(CpuInt8Kernels, GlobalAvgPool) {
  std::mt19937 rng(6);
  std::uniform_int_distribution<int> u8(0, 255);
  struct Shape {
    size_t pixels, C;
  };
  for (const Shape s : {Shape{1, 1}, Shape{49, 1280}, Shape{7, 17}, Shape{196, 300}, Shape{3, 1000}, Shape{64, 5}}) {
    for (bool per_channel : {false, true}) {
      for (int fill = 0; fill < 2; ++fill) {
        std::vector<uint8_t> x(s.pixels * s.C);
        for (auto& v : x) v = static_cast<uint8_t>(fill ? 255 : u8(rng));
        const int32_t zx = u8(rng);
        RqSetup rq = random_requant(rng, static_cast<int>(s.C), per_channel, static_cast<int64_t>(s.pixels) * 255);
        std::vector<uint8_t> expected(s.C);
        for (size_t c = 0; c < s.C; ++c) {
          int64_t sum = 0;
          for (size_t p = 0; p < s.pixels; ++p) sum += int64_t{x[p * s.C + c]} - zx;
          expected[c] = static_cast<uint8_t>(quant::requantize(to_int32(sum), multiplier_of(rq.rq, static_cast<int>(c)),
                                                               rq.rq.zero_point, rq.rq.lo, rq.rq.hi));
        }
        for (Isa isa : levels()) {
          SCOPED_TRACE(std::to_string(s.pixels) + "x" + std::to_string(s.C) + " at " + cpu::isa_name(isa));
          std::vector<uint8_t> y(s.C + 16, 0xEE);
          cpu::int8_kernels(isa).global_avgpool(y.data(), x.data(), s.pixels, s.C, zx, rq.rq);
          for (size_t c = 0; c < s.C; ++c) ASSERT_EQ(y[c], expected[c]) << "channel " << c;
          for (size_t c = s.C; c < y.size(); ++c) ASSERT_EQ(y[c], 0xEE);
        }
      }
    }
  }
}

TEST(CpuInt8Kernels, Quantize) {
  std::mt19937 rng(8);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {0.0f,
                          -0.0f,
                          2.5f,
                          -2.5f,
                          3.5f,
                          0.5f,
                          -0.5f,
                          1.5f,
                          127.5f,
                          128.5f,
                          -128.5f,
                          nan,
                          -nan,
                          inf,
                          -inf,
                          1e30f,
                          -1e30f,
                          1e-40f,
                          254.5f,
                          255.5f,
                          256.0f,
                          -1.0f,
                          1e10f,
                          7.49f,
                          7.51f,
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::lowest(),
                          std::numeric_limits<float>::denorm_min()};
  std::uniform_real_distribution<float> r(-400.0f, 400.0f);
  for (int i = 0; i < 1000; ++i) x.push_back(r(rng));
  for (int i = 0; i < 300; ++i) x.push_back(static_cast<float>(static_cast<int>(rng() % 600) - 300) + 0.5f);  // ties
  struct Params {
    float scale;
    int32_t zp, lo, hi;
  };
  for (const Params& p :
       {Params{1.0f, 0, 0, 255}, Params{1.0f, 128, 0, 255}, Params{0.5f, 255, 0, 255}, Params{0.1f, 3, 3, 63},
        Params{3.7f, 100, 0, 200}, Params{1e-3f, 128, 128, 255}, Params{2.0f, 0, 0, 255}}) {
    std::vector<uint8_t> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      expected[i] = static_cast<uint8_t>(quant::quantize(x[i], p.scale, p.zp, p.lo, p.hi));
    for (Isa isa : levels()) {
      for (size_t n : {x.size(), size_t{1}, size_t{13}, size_t{29}}) {
        SCOPED_TRACE("scale " + std::to_string(p.scale) + " n " + std::to_string(n) + " at " + cpu::isa_name(isa));
        std::vector<uint8_t> y(n + 16, 0xEE);
        cpu::int8_kernels(isa).quantize(y.data(), x.data(), n, p.scale, p.zp, p.lo, p.hi);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], expected[i]) << "x = " << x[i];
        for (size_t i = n; i < y.size(); ++i) ASSERT_EQ(y[i], 0xEE);
      }
    }
  }
  // Exact ties go to even: 2.5 → 2, 3.5 → 4, −2.5 → −2.
  const float ties[] = {2.5f, 3.5f, -2.5f, 0.5f};
  for (Isa isa : levels()) {
    uint8_t y[4];
    cpu::int8_kernels(isa).quantize(y, ties, 4, 1.0f, 128, 0, 255);
    EXPECT_EQ(y[0], 130) << cpu::isa_name(isa);
    EXPECT_EQ(y[1], 132) << cpu::isa_name(isa);
    EXPECT_EQ(y[2], 126) << cpu::isa_name(isa);
    EXPECT_EQ(y[3], 128) << cpu::isa_name(isa);
  }
}

TEST(CpuInt8Kernels, Dequantize) {
  std::vector<uint8_t> x(256 + 37);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 7);
  for (float scale : {1.0f, 0.0078125f, 0.1f, 3.3e-5f, 17.0f})
    for (int32_t zp : {0, 128, 255, 31}) {
      for (Isa isa : levels()) {
        for (size_t n : {x.size(), size_t{1}, size_t{19}}) {
          std::vector<float> y(n + 8, -7.0f);
          cpu::int8_kernels(isa).dequantize(y.data(), x.data(), n, scale, zp);
          for (size_t i = 0; i < n; ++i) {
            const float want = quant::dequantize(x[i], scale, zp);
            ASSERT_EQ(std::memcmp(&y[i], &want, sizeof(float)), 0)
                << cpu::isa_name(isa) << " x " << int{x[i]} << ": " << y[i] << " vs " << want;
          }
          for (size_t i = n; i < y.size(); ++i) ASSERT_EQ(y[i], -7.0f);
        }
      }
    }
}

}  // namespace
}  // namespace kiln::test
