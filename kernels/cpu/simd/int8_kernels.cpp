// The int8 kernels of the CPU backend (simd/int8_kernels.hpp), compiled once
// per ISA level like simd/kernels.cpp, but with -ffp-contract=off: the
// requantization rule (engine/core/quantization.hpp) is a rounded float
// multiplication followed by a rounded addition, and a fused multiply-add would
// change the bits on some levels only.
//
// Integer sums are exact on every level, and the float steps are the same IEEE
// operations in the same order, so every level gives the rule's bits. The
// element-wise kernels and the depthwise epilogue are written once with GCC
// vector extensions; the GEMM uses intrinsics on the x86 levels, for its
// inner product and for its epilogue, which requantizes straight from the
// accumulator registers (cvtps2dq rounding to nearest even, masked stores):
//   avx512_vnni  vpdpbusd: u8 activations × s8 weights, 4 along K per lane.
//   avx512, avx2 vpmaddubsw (u8 × s8, pairs summed in int16) then vpmaddwd by
//                ones: exact because pack_b splits every weight pair whose sum
//                could saturate into a safe part and a fix part (see the GEMM).
//   generic      plain loops.
#include "kernels/cpu/simd/int8_kernels.hpp"
#include "kernels/cpu/simd/fast_conv_transforms.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/core/quantization.hpp"
#include "kernels/cpu/simd/vec.hpp"

#if KILN_SIMD_LEVEL >= 1
#include <immintrin.h>
#endif

namespace kiln::cpu::KILN_SIMD_NS {
namespace {

// ---- vectors of kVL lanes --------------------------------------------------------------
typedef uint8_t vu8 __attribute__((vector_size(kVL)));
typedef uint8_t vu8_mem __attribute__((vector_size(kVL), aligned(1), may_alias));
typedef int16_t vi16 __attribute__((vector_size(kVL * 2)));
typedef int16_t vi16_mem __attribute__((vector_size(kVL * 2), aligned(2), may_alias));
typedef int vi_mem __attribute__((vector_size(kVL * 4), aligned(4), may_alias));

inline vi splat_i(int32_t x) { return vi{} + x; }
inline vi load_i(const int32_t* p) { return *reinterpret_cast<const vi_mem*>(p); }
inline void store_i(int32_t* p, vi v) { *reinterpret_cast<vi_mem*>(p) = v; }
// n <= kVL lanes; the rest zero. AVX-512 masks the lanes; the other levels
// copy through a small buffer with a loop (a memcpy call per load cost more
// than the arithmetic in the depthwise tail).
inline vi load_i(const int32_t* p, int n) {
  if (n == kVL) return load_i(p);
#if KILN_SIMD_LEVEL >= 2
  return reinterpret_cast<vi>(_mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << n) - 1), p));
#else
  int32_t tmp[kVL] = {};
  for (int i = 0; i < n; ++i) tmp[i] = p[i];
  return load_i(tmp);
#endif
}
inline vf load_f(const float* p, int n) { return n == kVL ? load(p) : load_partial(p, n); }
// Widening loads and the narrowing store. GCC 12 turns __builtin_convertvector
// from bytes into one insert per lane, so the x86 levels name the instructions.
#if KILN_SIMD_LEVEL >= 2
// The zero-masked forms: GCC 12 warns that the unmasked ones' undefined pass-through may be uninitialized.
constexpr __mmask16 kAll16 = 0xFFFF;
inline vi load_u8(const uint8_t* p) {
  return reinterpret_cast<vi>(_mm512_maskz_cvtepu8_epi32(kAll16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline vi load_i16(const int16_t* p) {
  return reinterpret_cast<vi>(
      _mm512_maskz_cvtepi16_epi32(kAll16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
}
inline void store_u8(uint8_t* p, vi v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_maskz_cvtepi32_epi8(kAll16, reinterpret_cast<__m512i>(v)));
}
#elif KILN_SIMD_LEVEL == 1
inline vi load_u8(const uint8_t* p) {
  return reinterpret_cast<vi>(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline vi load_i16(const int16_t* p) {
  return reinterpret_cast<vi>(_mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline void store_u8(uint8_t* p, vi v) {
  // Lanes are in [0, 255]: packing with signed then unsigned saturation keeps them.
  const __m256i x = reinterpret_cast<__m256i>(v);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(w, w));
}
#else
inline vi load_u8(const uint8_t* p) { return __builtin_convertvector(*reinterpret_cast<const vu8_mem*>(p), vi); }
inline vi load_i16(const int16_t* p) { return __builtin_convertvector(*reinterpret_cast<const vi16_mem*>(p), vi); }
// Values are in [0, 255] (clamped before), so truncation is the saturating narrowing.
inline void store_u8(uint8_t* p, vi v) { *reinterpret_cast<vu8_mem*>(p) = __builtin_convertvector(v, vu8); }
#endif
// x·w for x in [0, 255] and w in int16 range, exact. On x86 one vpmaddwd instead
// of vpmulld (two uops): x's upper int16 half is zero, so the pair sum is x·w.
#if KILN_SIMD_LEVEL >= 2
inline vi mul_u8_i16(vi x, vi w) {
  return reinterpret_cast<vi>(_mm512_madd_epi16(reinterpret_cast<__m512i>(x), reinterpret_cast<__m512i>(w)));
}
#elif KILN_SIMD_LEVEL == 1
inline vi mul_u8_i16(vi x, vi w) {
  return reinterpret_cast<vi>(_mm256_madd_epi16(reinterpret_cast<__m256i>(x), reinterpret_cast<__m256i>(w)));
}
#else
inline vi mul_u8_i16(vi x, vi w) { return x * w; }
#endif
inline vi load_u8(const uint8_t* p, int n) {
  if (n == kVL) return load_u8(p);
#if KILN_SIMD_LEVEL >= 2
  const auto m = static_cast<__mmask16>((1u << n) - 1);
  return reinterpret_cast<vi>(_mm512_maskz_cvtepu8_epi32(kAll16, _mm_maskz_loadu_epi8(m, p)));
#else
  uint8_t tmp[kVL] = {};
  for (int i = 0; i < n; ++i) tmp[i] = p[i];
  return load_u8(tmp);
#endif
}
inline vi load_i16(const int16_t* p, int n) {
  if (n == kVL) return load_i16(p);
#if KILN_SIMD_LEVEL >= 2
  const auto m = static_cast<__mmask16>((1u << n) - 1);
  return reinterpret_cast<vi>(_mm512_maskz_cvtepi16_epi32(kAll16, _mm256_maskz_loadu_epi16(m, p)));
#else
  int16_t tmp[kVL] = {};
  for (int i = 0; i < n; ++i) tmp[i] = p[i];
  return load_i16(tmp);
#endif
}
inline void store_u8(uint8_t* p, vi v, int n) {
  if (n == kVL) return store_u8(p, v);
#if KILN_SIMD_LEVEL >= 2
  _mm512_mask_cvtepi32_storeu_epi8(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m512i>(v));
#else
  uint8_t tmp[kVL];
  store_u8(tmp, v);
  for (int i = 0; i < n; ++i) p[i] = tmp[i];
#endif
}

// Round to nearest, ties to even, for |t| <= 2^22: adding 1.5·2^23 leaves no
// fraction bits, so the IEEE addition does the rounding (in the default
// mode, as nearbyint does), and the subtraction is exact. Every level rounds
// the same way without an ISA-specific conversion.
inline vi round_even(vf t) {
  const vf magic = splat(12582912.0f);
  return __builtin_convertvector((t + magic) - magic, vi);
}

// quant::requantize on kVL lanes.
struct RqConst {
  vf lo, hi;
  vi zp;
  explicit RqConst(const Requant& rq)
      : lo(splat(static_cast<float>(rq.lo - rq.zero_point))),
        hi(splat(static_cast<float>(rq.hi - rq.zero_point))),
        zp(splat_i(rq.zero_point)) {}
  explicit RqConst(int32_t lo_, int32_t hi_, int32_t zero_point)
      : lo(splat(static_cast<float>(lo_ - zero_point))),
        hi(splat(static_cast<float>(hi_ - zero_point))),
        zp(splat_i(zero_point)) {}
  vi clamp_round(vf t) const {
    t = t < lo ? lo : t;  // std::clamp's comparisons, in its order
    t = hi < t ? hi : t;
    return round_even(t) + zp;
  }
  vi requantize(vi acc, vf multiplier) const { return clamp_round(__builtin_convertvector(acc, vf) * multiplier); }
};

inline vf multipliers(const Requant& rq, size_t c, int n) {
  return rq.per_channel ? load_f(rq.multiplier + c, n) : splat(rq.multiplier[0]);
}

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
inline int round_up(int a, int b) { return ceil_div(a, b) * b; }

// ---- GEMM --------------------------------------------------------------------------------
// B is packed in panels of kNR columns (the last one zero-padded), K in groups
// of 4 (zero-padded to a multiple of 4): per group, kNR columns × 4 int8
// (w[k], w[k+1], w[k+2], w[k+3]), one int32 lane per column, as vpdpbusd and
// vpmaddubsw read them. A is read straight from the caller's rows, 4 bytes per
// broadcast; the last, partial group of a row is copied so that no byte past K
// is read.
//
// avx512 and avx2 have no vpdpbusd. vpmaddubsw multiplies u8 × s8 and sums
// adjacent pairs into int16 with saturation, and vpmaddwd by ones then sums
// the two pairs into the int32 lane: three uops per 4 K of one vector, where
// widening to int16 and two vpmaddwd + two vpaddd took six. A pair sum
// a0·w0 + a1·w1 over every a in [0, 255] stays in int16 exactly when
// 255·(w0⁺ + w1⁺) <= 32767 and 255·(w0⁻ + w1⁻) >= −32768, i.e. the positive
// weights of the pair sum to at most 128 and the negative ones to at least
// −128. pack_b knows the weights, so it splits every pair that could
// saturate, (w0, w1) = main + fix with both parts safe:
//   w0 + w1 > 128:  main = (128 − w1, w1), fix = (w0 + w1 − 128, 0)
//   w0 + w1 < −128: main = (−128 − w1, w1), fix = (w0 + w1 + 128, 0)
// (the pair's weights then share a sign; fix fits int8). The main weights
// fill the panel's groups as above; the groups of a panel where any column
// needs a fix are listed after them with their fix weights, and the tile adds
// those products in a second, short pass. Quantized models rarely need one
// (MobileNetV2: about 1% of the 16-column groups); uniformly random weights
// need one in most groups, which costs up to twice the inner loop but stays exact.
// A panel therefore has room for every group's fix (packed_b_size cannot see
// the weights): main groups | fix count (64 bytes) | fix group indices (int32,
// to a 64-byte multiple) | fix groups.
// kRows[v − 1]: rows of a tile of v vectors. Narrow tiles are taller, so that
// each weight vector loaded serves more rows (N = 16, 24, 32 are common).
#if KILN_SIMD_LEVEL >= 2
constexpr int kNV = 3;
constexpr int kRows[kNV] = {16, 12, 8};  // 16, 24, 24 zmm accumulators
#elif KILN_SIMD_LEVEL == 1
constexpr int kNV = 2;
constexpr int kRows[kNV] = {12, 6};  // 12 ymm accumulators + a broadcast, ones and a product
#else
constexpr int kNV = 4;
constexpr int kRows[kNV] = {4, 4, 4, 4};
#endif
constexpr bool kFix = KILN_SIMD_LEVEL == 1 || KILN_SIMD_LEVEL == 2;
constexpr int kMR = *std::max_element(kRows, kRows + kNV);
constexpr int kNR = kNV * kVL;
// Bytes of one group of 4 K values in one panel.
constexpr size_t kGroupBytes = static_cast<size_t>(kNR) * 4;

size_t main_bytes(int K) { return static_cast<size_t>(ceil_div(K, 4)) * kGroupBytes; }
// The fix list's offsets in a panel (kFix): its count, its group indices, its groups.
size_t fix_index_offset(int K) { return main_bytes(K) + 64; }
size_t fix_groups_offset(int K) {
  return fix_index_offset(K) + static_cast<size_t>(round_up(ceil_div(K, 4), 16)) * sizeof(int32_t);
}
size_t panel_bytes(int K) { return kFix ? fix_groups_offset(K) + main_bytes(K) : main_bytes(K); }

size_t packed_b_size(int N, int K) {
  const size_t bytes = static_cast<size_t>(ceil_div(N, kNR)) * panel_bytes(K);
  return std::max<size_t>(64, (bytes + 63) / 64 * 64);
}

void pack_b(const int8_t* w8, int N, int K, void* out) {
  std::memset(out, 0, packed_b_size(N, K));
  const size_t pb = panel_bytes(K);
  const int groups = ceil_div(K, 4);
  auto weight = [&](int n, int k) -> int32_t { return k < K ? w8[static_cast<size_t>(n) * K + k] : 0; };
  std::vector<uint8_t> fix(kFix ? kGroupBytes : 0);
  for (int n0 = 0; n0 < N; n0 += kNR) {
    auto* panel = static_cast<uint8_t*>(out) + static_cast<size_t>(n0 / kNR) * pb;
    int32_t fixes = 0;
    for (int g = 0; g < groups; ++g) {
      uint8_t* main = panel + static_cast<size_t>(g) * kGroupBytes;
      bool any_fix = false;
      std::fill(fix.begin(), fix.end(), uint8_t{0});
      for (int j = 0; j < kNR && n0 + j < N; ++j) {
        for (int q = 0; q < 4; q += 2) {
          int32_t w0 = weight(n0 + j, 4 * g + q), w1 = weight(n0 + j, 4 * g + q + 1), f0 = 0;
          if constexpr (kFix) {
            if (w0 + w1 > 128) f0 = w0 + w1 - 128;
            if (w0 + w1 < -128) f0 = w0 + w1 + 128;
            w0 -= f0;
            if (f0 != 0)
              fix[static_cast<size_t>(j) * 4 + q] = static_cast<uint8_t>(static_cast<int8_t>(f0)), any_fix = true;
          }
          main[j * 4 + q] = static_cast<uint8_t>(static_cast<int8_t>(w0));
          main[j * 4 + q + 1] = static_cast<uint8_t>(static_cast<int8_t>(w1));
        }
      }
      if (any_fix) {
        reinterpret_cast<int32_t*>(panel + fix_index_offset(K))[fixes] = g;
        std::memcpy(panel + fix_groups_offset(K) + static_cast<size_t>(fixes) * kGroupBytes, fix.data(), kGroupBytes);
        ++fixes;
      }
    }
    if constexpr (kFix) std::memcpy(panel + main_bytes(K), &fixes, sizeof fixes);
  }
}

// The 4 bytes of group g of a row; the partial last group is zero-filled.
inline uint32_t group_bytes(const uint8_t* row, int g, int K) {
  uint32_t v = 0;
  std::memcpy(&v, row + 4 * g, static_cast<size_t>(std::min(4, K - 4 * g)));
  return v;
}

// What a tile needs besides its rows of A: the panel of B, its columns' bias,
// row_coef and multipliers (offset to the panel's first column), the tile's
// row sums and where its uint8 results go. The tile requantizes straight from
// its accumulator registers.
struct TileCtx {
  const uint8_t* a = nullptr;  // the tile's first row
  size_t lda = 0;
  int K = 0;
  const uint8_t* b = nullptr;  // the panel
  const int32_t* bias = nullptr;
  const int32_t* coef = nullptr;  // null: no row term
  const float* mult = nullptr;    // per column, or null: mult1 for every column
  float mult1 = 0;
  const int32_t* rowsum = nullptr;  // the tile's rows, when coef is set
  bool rowsum_i16 = false;          // every row sum and coef fits int16: coef·rowsum in one vpmaddwd
  uint8_t* c = nullptr;             // the tile's first row, first column
  size_t ldc = 0;
  int nc = 0;            // columns to write, (NV − 1)·kVL < nc <= NV·kVL
  float lo = 0, hi = 0;  // rq.lo − zp, rq.hi − zp
  int32_t zp = 0;
  const uint8_t* res = nullptr;  // the tile's first row of the residual, or null
  size_t ldr = 0;
  const QAddParams* add = nullptr;
};

// quant::add of n ≤ kVL values a − za = q and the bytes at `res`, stored at c:
// the separate Add (add() below) and the one fused into a GEMM tile's epilogue
// (q: the requantized values before C's zero point, which is the Add's za).
struct ResidualAdd {
  RqConst rq;
  vi zb;
  vf ma, mb;
  explicit ResidualAdd(const QAddParams& p) : rq(p.lo, p.hi, p.zy), zb(splat_i(p.zb)), ma(splat(p.ma)), mb(splat(p.mb)) {}
  void store(uint8_t* c, vi q, const uint8_t* res, int n) const {
    const vf pa = __builtin_convertvector(q, vf) * ma;
    const vf pb = __builtin_convertvector(load_u8(res, n) - zb, vf) * mb;
    store_u8(c, rq.clamp_round(pa + pb), n);
  }
};

#if KILN_SIMD_LEVEL >= 2
using W = __m512i;
using F = __m512;
inline W w_zero() { return _mm512_setzero_si512(); }
inline W w_splat(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
inline W w_load(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline W w_add(W a, W b) { return _mm512_add_epi32(a, b); }
inline W w_madd(W a, W b) { return _mm512_madd_epi16(a, b); }
#if KILN_SIMD_LEVEL == 3
// As an asm statement: with the intrinsic, GCC 12 copies and spills the
// accumulators of the taller tiles around every vpdpbusd.
inline W w_dot4(W acc, W a, W b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}
#else
// u8 a × s8 b, 4 along K per lane: exact when every pair of b is safe (pack_b).
inline W w_dot4(W acc, W a, W b) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), _mm512_set1_epi16(1)));
}
#endif
inline __mmask16 lane_mask(int n) { return static_cast<__mmask16>((1u << n) - 1); }
// n <= kVL lanes of columns (the rest zero), never reading past them.
inline W col_load_i(const int32_t* p, int n) { return _mm512_maskz_loadu_epi32(lane_mask(n), p); }
inline F col_load_f(const float* p, int n) { return _mm512_maskz_loadu_ps(lane_mask(n), p); }
inline F f_splat(float x) { return _mm512_set1_ps(x); }
inline W w_mullo(W a, W b) { return _mm512_mullo_epi32(a, b); }
// quant::requantize: max(lo, t) is t < lo ? lo : t and min(hi, t) is hi < t ? hi : t
// (std::clamp's comparisons); cvtps2dq rounds to nearest even in the default
// mode, as nearbyint does.
// (The zero-masked forms, as in load_u8: GCC 12 warns on the unmasked ones.)
inline W w_requant(W acc, F mult, F lo, F hi, W zp) {
  F t = _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(kAll16, acc), mult);
  t = _mm512_maskz_min_ps(kAll16, hi, _mm512_maskz_max_ps(kAll16, lo, t));
  return _mm512_add_epi32(_mm512_maskz_cvtps_epi32(kAll16, t), zp);
}
// n <= kVL bytes of values in [0, 255].
inline void w_store_u8(uint8_t* p, W v, int n) { _mm512_mask_cvtepi32_storeu_epi8(p, lane_mask(n), v); }
#elif KILN_SIMD_LEVEL == 1
using W = __m256i;
using F = __m256;
inline W w_zero() { return _mm256_setzero_si256(); }
inline W w_splat(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
inline W w_load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline W w_add(W a, W b) { return _mm256_add_epi32(a, b); }
inline W w_madd(W a, W b) { return _mm256_madd_epi16(a, b); }
inline W w_dot4(W acc, W a, W b) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)));
}
inline W lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline W col_load_i(const int32_t* p, int n) {
  return n == kVL ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)) : _mm256_maskload_epi32(p, lane_mask(n));
}
inline F col_load_f(const float* p, int n) {
  return n == kVL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(n));
}
inline F f_splat(float x) { return _mm256_set1_ps(x); }
inline W w_mullo(W a, W b) { return _mm256_mullo_epi32(a, b); }
inline W w_requant(W acc, F mult, F lo, F hi, W zp) {
  F t = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mult);
  t = _mm256_min_ps(hi, _mm256_max_ps(lo, t));
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), zp);
}
inline void w_store_u8(uint8_t* p, W v, int n) {
  // Lanes are in [0, 255]: packing with signed then unsigned saturation keeps them.
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i b = _mm_packus_epi16(w, w);
  if (n == kVL) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(p, tmp, static_cast<size_t>(n));
  }
}
#endif

#if KILN_SIMD_LEVEL >= 1
inline W w_bcast4(const uint8_t* p) {
  int32_t x;
  std::memcpy(&x, p, 4);
  return w_splat(static_cast<uint32_t>(x));
}

// acc[r][v] += Σ_q row(r)[q] · w[q][column] over the 4 K values of one group; bg: the group in the panel.
template <int R, int NV, class RowFn>
__attribute__((always_inline)) inline void dot_group(W (&acc)[R][NV], const uint8_t* bg, RowFn row) {
  constexpr int kVB = kVL * 4;  // bytes per vector
  W bv[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bv[v] = w_load(bg + v * kVB);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const W ab = w_bcast4(row(r));
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = w_dot4(acc[r][v], ab, bv[v]);
  }
}

// Rows [0, R) × vectors [0, NV) of one panel: acc starts at the bias, takes the
// K loop, then coef·rowsum, and is requantized and stored from the registers.
template <int R, int NV>
void gemm_tile(const TileCtx& t) {
  const int K = t.K;
  const int groups = ceil_div(K, 4);
  const int last = t.nc - (NV - 1) * kVL;  // columns of the last vector
  W acc[R][NV];
  {
    W bias[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bias[v] = col_load_i(t.bias + v * kVL, v == NV - 1 ? last : kVL);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = bias[v];
  }
  // Rows are addressed from one base pointer per 4 rows plus 0, 1, 2 or 3 × lda,
  // which keeps the pointers in registers for up to 16 rows.
  constexpr int kBases = (R + 3) / 4;
  const uint8_t* base[kBases];
#pragma GCC unroll 4
  for (int i = 0; i < kBases; ++i) base[i] = t.a + static_cast<size_t>(4 * i) * t.lda;
  const size_t l1 = t.lda, l3 = 3 * t.lda;
  auto row = [&](int r) __attribute__((always_inline)) {
    const uint8_t* q = base[r / 4];
    return r % 4 == 0 ? q : r % 4 == 1 ? q + l1 : r % 4 == 2 ? q + 2 * l1 : q + l3;
  };
  const uint8_t* b = t.b;
  const int full = K / 4;
  for (int g = 0; g < full; ++g) {
    dot_group<R, NV>(
        acc, b, [&](int r) __attribute__((always_inline)) { return row(r); });
#pragma GCC unroll 4
    for (int i = 0; i < kBases; ++i) base[i] += 4;
    b += kGroupBytes;
  }
  // The last, partial group, copied so that no byte past K is read (B is zero there).
  uint32_t tail[R];
  if (full < groups) {
    for (int r = 0; r < R; ++r) {
      tail[r] = 0;
      std::memcpy(&tail[r], row(r), static_cast<size_t>(K - 4 * full));
    }
    dot_group<R, NV>(
        acc, b, [&](int r) __attribute__((always_inline)) { return reinterpret_cast<const uint8_t*>(tail + r); });
  }
  if constexpr (kFix) {
    // The groups whose fix weights are not all zero (see pack_b); row(r) now points at group `full`.
    int32_t fixes;
    std::memcpy(&fixes, t.b + main_bytes(K), sizeof fixes);
    const auto* index = reinterpret_cast<const int32_t*>(t.b + fix_index_offset(K));
    const uint8_t* fb = t.b + fix_groups_offset(K);
    for (int i = 0; i < fixes; ++i, fb += kGroupBytes) {
      const int g = index[i];
      if (g < full) {
        const ptrdiff_t back = 4 * static_cast<ptrdiff_t>(g - full);
        dot_group<R, NV>(
            acc, fb, [&](int r) __attribute__((always_inline)) { return row(r) + back; });
      } else {
        dot_group<R, NV>(
            acc, fb, [&](int r) __attribute__((always_inline)) { return reinterpret_cast<const uint8_t*>(tail + r); });
      }
    }
  }
  if (t.coef != nullptr) {
    W coef[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) coef[v] = col_load_i(t.coef + v * kVL, v == NV - 1 ? last : kVL);
    if (t.rowsum_i16) {
      // The row sum's upper int16 half is zero, so the pair sum is rowsum·coef (exact).
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const W rs = w_splat(static_cast<uint32_t>(t.rowsum[r]));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = w_add(acc[r][v], w_madd(rs, coef[v]));
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const W rs = w_splat(static_cast<uint32_t>(t.rowsum[r]));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = w_add(acc[r][v], w_mullo(rs, coef[v]));
      }
    }
  }
  F mult[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v)
    mult[v] = t.mult != nullptr ? col_load_f(t.mult + v * kVL, v == NV - 1 ? last : kVL) : f_splat(t.mult1);
  const F lo = f_splat(t.lo), hi = f_splat(t.hi);
  if (t.res != nullptr) {
    const ResidualAdd ra(*t.add);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        ra.store(t.c + r * t.ldc + v * kVL, reinterpret_cast<vi>(w_requant(acc[r][v], mult[v], lo, hi, w_zero())),
                 t.res + r * t.ldr + v * kVL, v == NV - 1 ? last : kVL);
    return;
  }
  const W zp = w_splat(static_cast<uint32_t>(t.zp));
#if KILN_SIMD_LEVEL == 1
  if constexpr (NV == 2) {
    // Both vectors of a row at once: the rounded values before the zero point
    // lie in [lo − zp, hi − zp] ⊂ [−255, 255], so packing to int16, adding zp
    // there and packing to uint8 is exact.
    const W zp16 = _mm256_set1_epi16(static_cast<int16_t>(t.zp));
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      W p = _mm256_packs_epi32(w_requant(acc[r][0], mult[0], lo, hi, w_zero()),
                               w_requant(acc[r][1], mult[1], lo, hi, w_zero()));
      p = _mm256_add_epi16(_mm256_permute4x64_epi64(p, 0xD8), zp16);
      const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
      uint8_t* c = t.c + r * t.ldc;
      if (last == kVL) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c), b);
      } else {
        alignas(16) uint8_t tmp[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
        std::memcpy(c, tmp, static_cast<size_t>(kVL + last));
      }
    }
    return;
  }
#endif
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      w_store_u8(t.c + r * t.ldc + v * kVL, w_requant(acc[r][v], mult[v], lo, hi, zp), v == NV - 1 ? last : kVL);
}
#else
template <int R, int NV>
void gemm_tile(const TileCtx& t) {
  constexpr int kCols = NV * kVL;
  const int K = t.K, groups = ceil_div(K, 4);
  int32_t acc[R][kCols] = {};
  for (int g = 0; g < groups; ++g) {
    uint8_t ag[R][4];
    for (int r = 0; r < R; ++r) {
      const uint32_t v = group_bytes(t.a + static_cast<size_t>(r) * t.lda, g, K);
      std::memcpy(ag[r], &v, 4);
    }
    const auto* bg = reinterpret_cast<const int8_t*>(t.b + static_cast<size_t>(g) * kGroupBytes);
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < kCols; ++j) {
        int32_t s = 0;
        for (int q = 0; q < 4; ++q) s += static_cast<int32_t>(ag[r][q]) * bg[j * 4 + q];
        acc[r][j] += s;
      }
  }
  const vf lo = splat(t.lo), hi = splat(t.hi);
  const vi zp = splat_i(t.zp);
  for (int j = 0; j < t.nc; j += kVL) {
    const int n = std::min(kVL, t.nc - j);
    const vi bias = load_i(t.bias + j, n);
    const vi coef = t.coef != nullptr ? load_i(t.coef + j, n) : vi{};
    const vf mult = t.mult != nullptr ? load_f(t.mult + j, n) : splat(t.mult1);
    for (int r = 0; r < R; ++r) {
      vi x = load_i(acc[r] + j) + bias;
      if (t.coef != nullptr) x += coef * t.rowsum[r];
      vf f = __builtin_convertvector(x, vf) * mult;
      f = f < lo ? lo : f;  // std::clamp's comparisons, in its order
      f = hi < f ? hi : f;
      if (t.res != nullptr)
        ResidualAdd(*t.add).store(t.c + r * t.ldc + j, round_even(f), t.res + r * t.ldr + j, n);
      else
        store_u8(t.c + r * t.ldc + j, round_even(f) + zp, n);
    }
  }
}
#endif

using TileFn = void (*)(const TileCtx&);
// kTiles[(vectors − 1)·kMR + rows − 1], rows <= kRows[vectors − 1] (the other entries are never called).
template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)> make_tiles(std::index_sequence<I...>) {
  return {&gemm_tile<std::min(static_cast<int>(I) % kMR + 1, kRows[static_cast<int>(I) / kMR]),
                     static_cast<int>(I) / kMR + 1>...};
}
constexpr auto kTiles = make_tiles(std::make_index_sequence<kMR * kNV>{});

// out[r] = Σ_k a[r·lda + k] for r < rows, without reading past a row's K bytes.
void row_sums(const uint8_t* a, size_t lda, int rows, int K, int32_t* out) {
#if KILN_SIMD_LEVEL >= 2
  if (K <= 16) {
    const __mmask16 m = static_cast<__mmask16>((1u << K) - 1);
    for (int r = 0; r < rows; ++r) {
      const __m128i s = _mm_sad_epu8(_mm_maskz_loadu_epi8(m, a + r * lda), _mm_setzero_si128());
      out[r] = _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_unpackhi_epi64(s, s)));
    }
  } else if (K <= 32) {
    const __mmask32 m = K == 32 ? ~__mmask32{0} : (__mmask32{1} << K) - 1;
    for (int r = 0; r < rows; ++r) {
      const __m256i s = _mm256_sad_epu8(_mm256_maskz_loadu_epi8(m, a + r * lda), _mm256_setzero_si256());
      const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      out[r] = _mm_cvtsi128_si32(_mm_add_epi32(h, _mm_unpackhi_epi64(h, h)));
    }
  } else {
    for (int r = 0; r < rows; ++r) {
      const uint8_t* row = a + r * lda;
      __m512i s = _mm512_setzero_si512();
      for (int k = 0; k < K; k += 64) {
        const __mmask64 m = K - k >= 64 ? ~__mmask64{0} : (__mmask64{1} << (K - k)) - 1;
        s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, row + k), _mm512_setzero_si512()));
      }
      typedef int64_t v8 __attribute__((vector_size(64)));
      const v8 x = reinterpret_cast<v8>(s);
      out[r] = static_cast<int32_t>(((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])));
    }
  }
#elif KILN_SIMD_LEVEL == 1
  // Whole 32-byte blocks, then the whole dwords of the rest by a masked load (which never faults on
  // the lanes it leaves out), then the last K % 4 bytes.
  const int blocks = K / 32, dwords = (K % 32) / 4, tail = K % 4;
  const __m256i dmask = lane_mask(dwords);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    __m256i s = _mm256_setzero_si256();
    for (int i = 0; i < blocks; ++i)
      s = _mm256_add_epi64(s, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * i)),
                                              _mm256_setzero_si256()));
    const uint8_t* rest = row + 32 * blocks;
    if (dwords > 0)
      s = _mm256_add_epi64(
          s, _mm256_sad_epu8(_mm256_maskload_epi32(reinterpret_cast<const int*>(rest), dmask), _mm256_setzero_si256()));
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    int32_t total = _mm_cvtsi128_si32(_mm_add_epi64(h, _mm_unpackhi_epi64(h, h)));
    for (int k = 4 * dwords; k < 4 * dwords + tail; ++k) total += rest[k];
    out[r] = total;
  }
#else
  for (int r = 0; r < rows; ++r) {
    uint32_t s = 0;
    for (int k = 0; k < K; ++k) s += a[r * lda + k];
    out[r] = static_cast<int32_t>(s);
  }
#endif
}

void gemm(const QGemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  // Rows per chunk: the chunk's A stays in L1/L2 while every panel of B passes
  // over it. A multiple of every tile height, so that only the last chunk has a short tile.
  constexpr int kUnit = 48;
  static_assert(kUnit % kRows[0] == 0 && kUnit % kRows[kNV - 1] == 0 && kUnit % kRows[(kNV - 1) / 2] == 0);
  constexpr int kMaxChunk = 5 * kUnit;
  const int chunk = std::clamp((48 * 1024) / std::max(g.K, 1) / kUnit * kUnit, kUnit, kMaxChunk);
  const size_t pb = panel_bytes(g.K);
  const int panels = ceil_div(g.N, kNR);
  int32_t rowsum[kMaxChunk];
  TileCtx t;
  t.lda = g.lda, t.K = g.K, t.ldc = g.ldc;
  t.coef = g.row_coef;
  t.mult1 = g.rq.multiplier[0];
  t.lo = static_cast<float>(g.rq.lo - g.rq.zero_point), t.hi = static_cast<float>(g.rq.hi - g.rq.zero_point);
  t.zp = g.rq.zero_point;
  t.ldr = g.ldr;
  t.add = &g.add;
  if (g.row_coef != nullptr && 255 * static_cast<int64_t>(g.K) <= 32767) {
    t.rowsum_i16 = true;
    for (int n = 0; n < g.N; ++n) t.rowsum_i16 = t.rowsum_i16 && g.row_coef[n] >= -32768 && g.row_coef[n] <= 32767;
  }
  for (int m0 = 0; m0 < g.M; m0 += chunk) {
    const int mc = std::min(chunk, g.M - m0);
    const uint8_t* a = g.a + static_cast<size_t>(m0) * g.lda;
    if (g.row_coef != nullptr) row_sums(a, g.lda, mc, g.K, rowsum);
    for (int p = 0; p < panels; ++p) {
      const int n0 = p * kNR, nc = std::min(kNR, g.N - n0), nv = ceil_div(nc, kVL);
      const int height = kRows[nv - 1];
      const TileFn* tiles = &kTiles[static_cast<size_t>(nv - 1) * kMR];
      t.b = static_cast<const uint8_t*>(g.b) + static_cast<size_t>(p) * pb;
      t.bias = g.bias + n0;
      t.coef = g.row_coef != nullptr ? g.row_coef + n0 : nullptr;
      t.mult = g.rq.per_channel ? g.rq.multiplier + n0 : nullptr;
      t.nc = nc;
      for (int mt = 0; mt < mc; mt += height) {
        const int rows = std::min(height, mc - mt);
        t.a = a + static_cast<size_t>(mt) * g.lda;
        t.rowsum = rowsum + mt;
        t.c = g.c + static_cast<size_t>(m0 + mt) * g.ldc + n0;
        t.res = g.residual != nullptr ? g.residual + static_cast<size_t>(m0 + mt) * g.ldr + n0 : nullptr;
        tiles[rows - 1](t);
      }
    }
  }
}

// ---- depthwise convolution ------------------------------------------------------------
// Vectorised along C; the taps that fall in the image are found once per
// output pixel (padding reads as the zero point, i.e. contributes nothing).
// kBlock vectors of channels share the tap loop.
constexpr int kBlock = 4;

template <int NB>
inline void depthwise_block(const QDepthwiseArgs& p, const RqConst& rq, int c, int ih0, int kh0, int kh1, int iw0,
                            int kw0, int kw1, uint8_t* y) {
  vi acc[NB], wsum[NB];
  for (int b = 0; b < NB; ++b) acc[b] = load_i(p.bias + c + b * kVL), wsum[b] = vi{};
  const vi zx = splat_i(p.x_zero_point);
  const size_t C = static_cast<size_t>(p.C);
  for (int kh = kh0; kh < kh1; ++kh) {
    const uint8_t* xr = p.x + static_cast<size_t>(ih0 + kh * p.dh) * p.W * C + c;
    const int16_t* wr = p.w + static_cast<size_t>(kh) * p.KW * C + c;
    for (int kw = kw0; kw < kw1; ++kw) {
      const uint8_t* xp = xr + static_cast<size_t>(iw0 + kw * p.dw) * C;
      const int16_t* wp = wr + static_cast<size_t>(kw) * C;
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) {
        // Σ(x − zx)·w = Σx·w − zx·Σw, so that x·w is one vpmaddwd (mul_u8_i16).
        const vi w = load_i16(wp + b * kVL);
        acc[b] += mul_u8_i16(load_u8(xp + b * kVL), w);
        wsum[b] += w;
      }
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) acc[b] -= zx * wsum[b];
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b)
    store_u8(y + c + b * kVL, rq.requantize(acc[b], multipliers(p.rq, c + b * kVL, kVL)), kVL);
}

void depthwise_tail(const QDepthwiseArgs& p, const RqConst& rq, int c, int ih0, int kh0, int kh1, int iw0, int kw0,
                    int kw1, uint8_t* y) {
  const int n = p.C - c;
  vi acc = load_i(p.bias + c, n);
  const vi zx = splat_i(p.x_zero_point);
  const size_t C = static_cast<size_t>(p.C);
  for (int kh = kh0; kh < kh1; ++kh)
    for (int kw = kw0; kw < kw1; ++kw) {
      const uint8_t* xp = p.x + (static_cast<size_t>(ih0 + kh * p.dh) * p.W + (iw0 + kw * p.dw)) * C + c;
      const int16_t* wp = p.w + (static_cast<size_t>(kh) * p.KW + kw) * C + c;
      acc += (load_u8(xp, n) - zx) * load_i16(wp, n);
    }
  store_u8(y + c, rq.requantize(acc, multipliers(p.rq, c, n)), n);
}

// Taps t in [t0, t1) with 0 <= i0 + t·d < size.
inline void tap_range(int i0, int d, int taps, int size, int& t0, int& t1) {
  t0 = 0;
  while (t0 < taps && i0 + t0 * d < 0) ++t0;
  t1 = taps;
  while (t1 > t0 && i0 + (t1 - 1) * d >= size) --t1;
}

// The general path, for channels [c_begin, C).
void depthwise_general(const QDepthwiseArgs& p, int c_begin) {
  const RqConst rq(p.rq);
  const int C = p.C;
  for (int oh = p.oh_begin; oh < p.oh_end; ++oh) {
    const int ih0 = oh * p.sh - p.pt;
    int kh0, kh1;
    tap_range(ih0, p.dh, p.KH, p.H, kh0, kh1);
    for (int ow = 0; ow < p.OW; ++ow) {
      const int iw0 = ow * p.sw - p.pl;
      int kw0, kw1;
      tap_range(iw0, p.dw, p.KW, p.W, kw0, kw1);
      uint8_t* y = p.y + (static_cast<size_t>(oh) * p.OW + ow) * C;
      int c = c_begin;
      for (; c + kBlock * kVL <= C; c += kBlock * kVL)
        depthwise_block<kBlock>(p, rq, c, ih0, kh0, kh1, iw0, kw0, kw1, y);
      for (; c + kVL <= C; c += kVL) depthwise_block<1>(p, rq, c, ih0, kh0, kh1, iw0, kw0, kw1, y);
      // The last channels: one more vector overlapping the previous (the same
      // bits again) where there is room for it, else the per-channel tail.
      if (c < C && C - c_begin >= kVL) depthwise_block<1>(p, rq, C - kVL, ih0, kh0, kh1, iw0, kw0, kw1, y);
      else if (c < C) depthwise_tail(p, rq, c, ih0, kh0, kh1, iw0, kw0, kw1, y);
    }
  }
}

#if KILN_SIMD_LEVEL >= 1
// ---- 3×3, stride 1 or 2, no dilation -----------------------------------------------------
// Per vector of kVL channels, the zero point is folded out of the sum,
//   acc = Σ_taps x·w + k,   k = bias − zx·Σ_taps w,
// and a tap outside the image reads x = zx (the padding value), which makes
// the same formula exact at the borders: the kernel never checks a tap, it
// reads an out-of-image row from a vector of zx (column step 0) and an
// out-of-image column, only in the few border outputs, as zx.
// x·w is summed by vpmaddwd on int16 pairs (vpdpwssd on avx512_vnni): taps
// (0, kw) and (1, kw) share one int32 lane as (x, x') · (w, w'), and tap
// (2, kw) is (x, 0) · (w, ·). Per output that is 6 multiply-adds for 9 taps;
// the input columns of a row are widened once and reused by the neighbouring
// outputs (2 of 3 columns at stride 1, 1 of 3 at stride 2).
// Every int32 sum is exact or wraps like the true accumulator, which fits int32.

// Per vector of channels: the weight pairs (w[0][kw], w[1][kw]) as int32 lanes
// (low half, high half), the last row's weights w[2][kw], and k.
struct Dw3Weights {
  vi pair[3], last[3], k;
};

inline vi int16_pair(vi lo, vi hi) { return (lo & splat_i(0xFFFF)) | (hi << 16); }

// int16_pair(load_u8(lo), load_u8(hi)) in 2 instructions instead of 4: the
// second row's bytes are broadcast to every 128-bit lane (a plain load) and
// vpshufb moves channel 4·lane + j to byte 2 of dword j, which the mask merges
// into the first row's widened bytes (avx2: vpshufb zeroes the other bytes, and an or merges).
inline vi load_u8_pair(const uint8_t* lo, const uint8_t* hi) {
#if KILN_SIMD_LEVEL >= 2
  static constexpr auto kCtl = [] {
    std::array<int8_t, 64> c{};
    for (int b = 0; b < 64; ++b) c[b] = b % 4 == 2 ? static_cast<int8_t>(4 * (b / 16) + b % 16 / 4) : -128;
    return c;
  }();
  const __m512i ctl = _mm512_loadu_si512(kCtl.data());
  const __m512i h = _mm512_maskz_broadcast_i32x4(kAll16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)));
  return reinterpret_cast<vi>(
      _mm512_mask_shuffle_epi8(reinterpret_cast<__m512i>(load_u8(lo)), 0x4444444444444444ull, h, ctl));
#else
  static constexpr auto kCtl = [] {
    std::array<int8_t, 32> c{};
    for (int b = 0; b < 32; ++b) c[b] = b % 4 == 2 ? static_cast<int8_t>(4 * (b / 16) + b % 16 / 4) : -128;
    return c;
  }();
  const __m256i ctl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kCtl.data()));
  int64_t bytes;
  std::memcpy(&bytes, hi, 8);
  const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi64x(bytes), ctl);
  return load_u8(lo) | reinterpret_cast<vi>(h);
#endif
}

inline vi dot_pairs(vi acc, vi a, vi b) {
#if KILN_SIMD_LEVEL == 3
  return reinterpret_cast<vi>(
      _mm512_dpwssd_epi32(reinterpret_cast<__m512i>(acc), reinterpret_cast<__m512i>(a), reinterpret_cast<__m512i>(b)));
#else
  return acc + mul_u8_i16(a, b);  // vpmaddwd: the pair sum, for any int16 pairs
#endif
}

// quant::requantize with the one-instruction conversion (cvtps2dq, ties to
// even in the default mode, as round_even): the same bits, NaN included.
struct Dw3Requant {
  vf lo, hi;
  vi zp;
  explicit Dw3Requant(const Requant& rq)
      : lo(splat(static_cast<float>(rq.lo - rq.zero_point))),
        hi(splat(static_cast<float>(rq.hi - rq.zero_point))),
        zp(splat_i(rq.zero_point)) {}
  void store(uint8_t* y, vi acc, vf multiplier) const {
    vf t = __builtin_convertvector(acc, vf) * multiplier;
    t = t < lo ? lo : t;
    t = hi < t ? hi : t;
#if KILN_SIMD_LEVEL >= 2
    const vi r = reinterpret_cast<vi>(_mm512_maskz_cvtps_epi32(kAll16, reinterpret_cast<__m512>(t)));
#else
    const vi r = reinterpret_cast<vi>(_mm256_cvtps_epi32(reinterpret_cast<__m256>(t)));
#endif
    store_u8(y, r + zp);
  }
};

template <int S>
struct Dw3Row {
  // Input rows kh = 0, 1, 2 at the vector's channels, and their column steps (C, or 0 for a row of zx).
  const uint8_t* row[3];
  size_t step[3];
  int W;
  vi zx, zx_pair;
  // Column iw of the pair rows and of the last row; zx outside the image.
  vi pair_at(int iw) const {
    if (iw < 0 || iw >= W) return zx_pair;
    return load_u8_pair(row[0] + iw * step[0], row[1] + iw * step[1]);
  }
  vi last_at(int iw) const {
    if (iw < 0 || iw >= W) return zx;
    return load_u8(row[2] + iw * step[2]);
  }
};

__attribute__((always_inline)) inline vi dw3_sum(const Dw3Weights& w, vi a0, vi b0, vi a1, vi b1, vi a2, vi b2) {
  vi acc = dot_pairs(w.k, a0, w.pair[0]);
  acc = dot_pairs(acc, b0, w.last[0]);
  acc = dot_pairs(acc, a1, w.pair[1]);
  acc = dot_pairs(acc, b1, w.last[1]);
  acc = dot_pairs(acc, a2, w.pair[2]);
  return dot_pairs(acc, b2, w.last[2]);
}

// One output row at one vector of channels, along a window of input columns:
// each output reads the columns not shared with the previous one (1 at stride
// 1, 2 at stride 2). From ow_lo on those are >= 0; in [ow_lo, ow_hi) they are
// also < W and read without checks; the window before ow_lo and the columns
// from ow_hi on are checked (zx outside the image).
template <int S>
void dw3_row(const Dw3Row<S>& r, const Dw3Weights& w, const Dw3Requant& rq, vf mult, int pl, int OW, int ow_lo,
             int ow_hi, uint8_t* y, size_t C) {
  for (int ow = 0; ow < ow_lo; ++ow) {  // only with padding wider than the kernel's reach
    const int iw = ow * S - pl;
    const vi acc = dw3_sum(w, r.pair_at(iw), r.last_at(iw), r.pair_at(iw + 1), r.last_at(iw + 1), r.pair_at(iw + 2),
                           r.last_at(iw + 2));
    rq.store(y + static_cast<size_t>(ow) * C, acc, mult);
  }
  if (ow_lo >= OW) return;
  const uint8_t *q0 = r.row[0], *q1 = r.row[1], *q2 = r.row[2];
  const size_t s0 = r.step[0], s1 = r.step[1], s2 = r.step[2];
  auto pair = [&](int col) __attribute__((always_inline)) {
    return load_u8_pair(q0 + static_cast<size_t>(col) * s0, q1 + static_cast<size_t>(col) * s1);
  };
  auto last = [&](int col) __attribute__((always_inline)) { return load_u8(q2 + static_cast<size_t>(col) * s2); };
  int col = ow_lo * S - pl;  // the output's first column
  uint8_t* out = y + static_cast<size_t>(ow_lo) * C;
  vi a0 = r.pair_at(col), b0 = r.last_at(col);
  if constexpr (S == 1) {
    vi a1 = r.pair_at(col + 1), b1 = r.last_at(col + 1);
    int ow = ow_lo;
    for (; ow < ow_hi; ++ow, ++col, out += C) {
      const vi a2 = pair(col + 2), b2 = last(col + 2);
      rq.store(out, dw3_sum(w, a0, b0, a1, b1, a2, b2), mult);
      a0 = a1, b0 = b1, a1 = a2, b1 = b2;
    }
    for (; ow < OW; ++ow, ++col, out += C) {
      const vi a2 = r.pair_at(col + 2), b2 = r.last_at(col + 2);
      rq.store(out, dw3_sum(w, a0, b0, a1, b1, a2, b2), mult);
      a0 = a1, b0 = b1, a1 = a2, b1 = b2;
    }
  } else {
    int ow = ow_lo;
    for (; ow < ow_hi; ++ow, col += 2, out += C) {
      const vi a1 = pair(col + 1), b1 = last(col + 1), a2 = pair(col + 2), b2 = last(col + 2);
      rq.store(out, dw3_sum(w, a0, b0, a1, b1, a2, b2), mult);
      a0 = a2, b0 = b2;
    }
    for (; ow < OW; ++ow, col += 2, out += C) {
      const vi a1 = r.pair_at(col + 1), b1 = r.last_at(col + 1), a2 = r.pair_at(col + 2), b2 = r.last_at(col + 2);
      rq.store(out, dw3_sum(w, a0, b0, a1, b1, a2, b2), mult);
      a0 = a2, b0 = b2;
    }
  }
}

// Channels [0, C − C % kVL) of rows [oh_begin, oh_end).
template <int S>
void depthwise_3x3(const QDepthwiseArgs& p) {
  const Dw3Requant rq(p.rq);
  const size_t C = static_cast<size_t>(p.C);
  // Channel vectors at c = v·kVL, and for C not a multiple of kVL one more at
  // C − kVL, overlapping the previous one: its overlapping channels are
  // computed again with the same arithmetic, so they are written with the
  // same bits, and no channel is left to a slower path.
  const int vectors = (p.C + kVL - 1) / kVL;
  auto channel_of = [&](int v) { return std::min(v * kVL, p.C - kVL); };
  // The first output whose new columns (ow·S − pl + 3 − S .. ow·S − pl + 2) are >= 0, and the end
  // of the outputs whose last column is < W (see dw3_row).
  const int ow_lo = std::min(p.OW, std::max(0, ceil_div(p.pl - 3 + S, S)));
  const int ow_hi = p.W - 3 + p.pl < 0 ? ow_lo : std::clamp((p.W - 3 + p.pl) / S + 1, ow_lo, p.OW);
  alignas(64) uint8_t zx_bytes[64];
  std::memset(zx_bytes, p.x_zero_point, sizeof(zx_bytes));
  const vi zx = splat_i(p.x_zero_point);
  // Weights of a chunk of channel vectors, reused by every row of the call.
  constexpr int kChunk = 32;
  Dw3Weights wts[kChunk];
  for (int v0 = 0; v0 < vectors; v0 += kChunk) {
    const int nv = std::min(kChunk, vectors - v0);
    for (int v = 0; v < nv; ++v) {
      const int c = channel_of(v0 + v);
      vi wsum = vi{};
      vi t[9];
      for (int i = 0; i < 9; ++i) wsum += t[i] = load_i16(p.w + static_cast<size_t>(i) * C + c);
      for (int kw = 0; kw < 3; ++kw) {
        wts[v].pair[kw] = int16_pair(t[kw], t[3 + kw]);
        wts[v].last[kw] = t[6 + kw];
      }
      wts[v].k = load_i(p.bias + c) - zx * wsum;
    }
    for (int oh = p.oh_begin; oh < p.oh_end; ++oh) {
      Dw3Row<S> r;
      r.W = p.W;
      r.zx = zx;
      r.zx_pair = int16_pair(zx, zx);
      const uint8_t* rows[3];
      size_t steps[3];
      for (int kh = 0; kh < 3; ++kh) {
        const int ih = oh * S - p.pt + kh;
        const bool in = ih >= 0 && ih < p.H;
        rows[kh] = in ? p.x + static_cast<size_t>(ih) * p.W * C : zx_bytes;
        steps[kh] = in ? C : 0;
      }
      uint8_t* y = p.y + static_cast<size_t>(oh) * p.OW * C;
      for (int v = 0; v < nv; ++v) {
        const int c = channel_of(v0 + v);
        for (int kh = 0; kh < 3; ++kh) {
          r.row[kh] = steps[kh] ? rows[kh] + c : rows[kh];
          r.step[kh] = steps[kh];
        }
        const vf mult = p.rq.per_channel ? load(p.rq.multiplier + c) : splat(p.rq.multiplier[0]);
        dw3_row<S>(r, wts[v], rq, mult, p.pl, p.OW, ow_lo, ow_hi, y + c, C);
      }
    }
  }
}
#endif

void depthwise(const QDepthwiseArgs& p) {
#if KILN_SIMD_LEVEL >= 1
  if (p.KH == 3 && p.KW == 3 && p.dh == 1 && p.dw == 1 && p.sh == p.sw && (p.sh == 1 || p.sh == 2) && p.C >= kVL) {
    if (p.sh == 1) {
      depthwise_3x3<1>(p);
    } else {
      depthwise_3x3<2>(p);
    }
    return;
  }
#endif
  depthwise_general(p, 0);
}

// ---- element-wise -----------------------------------------------------------------------
void add(uint8_t* y, const uint8_t* a, const uint8_t* b, size_t n, const QAddParams& p) {
  // The same code as a GEMM epilogue's fused Add, so that the two agree bit for bit.
  const ResidualAdd ra(p);
  const vi za = splat_i(p.za);
  for (size_t i = 0; i < n; i += kVL) {
    const int m = static_cast<int>(std::min<size_t>(kVL, n - i));
    ra.store(y + i, load_u8(a + i, m) - za, b + i, m);
  }
}

void global_avgpool(uint8_t* y, const uint8_t* x, size_t pixels, size_t C, int32_t x_zero_point, const Requant& rq) {
  const RqConst q(rq);
  // Channels in blocks whose int32 sums stay in registers or L1 while the pixels stream by.
  constexpr size_t kChannels = 256;
  alignas(64) int32_t sum[kChannels];
  const int32_t offset = -static_cast<int32_t>(pixels) * x_zero_point;
  for (size_t c0 = 0; c0 < C; c0 += kChannels) {
    const size_t cn = std::min(kChannels, C - c0);
    for (size_t c = 0; c < cn; ++c) sum[c] = offset;
    for (size_t px = 0; px < pixels; ++px) {
      const uint8_t* row = x + px * C + c0;
      for (size_t c = 0; c < cn; ++c) sum[c] += row[c];
    }
    for (size_t c = 0; c < cn; c += kVL) {
      const int n = static_cast<int>(std::min<size_t>(kVL, cn - c));
      store_u8(y + c0 + c, q.requantize(load_i(sum + c, n), multipliers(rq, c0 + c, n)), n);
    }
  }
}

void max_pool(const QMaxPoolArgs& p) {
  const size_t C = static_cast<size_t>(p.C);
  for (int oh = p.oh_begin; oh < p.oh_end; ++oh) {
    const int ih0 = oh * p.sh - p.pt;
    for (int ow = 0; ow < p.OW; ++ow) {
      const int iw0 = ow * p.sw - p.pl;
      uint8_t* y = p.y + (static_cast<size_t>(oh) * p.OW + ow) * C;
      std::memset(y, 0, C);  // 0 is the smallest uint8
      bool any = false;
      for (int kh = 0; kh < p.KH; ++kh) {
        const int ih = ih0 + kh * p.dh;
        if (ih < 0 || ih >= p.H) continue;
        for (int kw = 0; kw < p.KW; ++kw) {
          const int iw = iw0 + kw * p.dw;
          if (iw < 0 || iw >= p.W) continue;
          const uint8_t* x = p.x + (static_cast<size_t>(ih) * p.W + iw) * C;
          for (size_t c = 0; c < C; ++c) y[c] = std::max(y[c], x[c]);
          any = true;
        }
      }
      if (!any)
        std::memset(y, p.empty, C);
      else if (p.table)
        for (size_t c = 0; c < C; ++c) y[c] = p.table[y[c]];
    }
  }
}

void quantize(uint8_t* y, const float* x, size_t n, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  const RqConst rq(lo, hi, zero_point);
  const vf s = splat(scale);
  for (size_t i = 0; i < n; i += kVL) {
    const int m = static_cast<int>(std::min<size_t>(kVL, n - i));
    vf t = load_f(x + i, m) / s;
    t = t == t ? t : vf{};  // NaN maps to the zero point
    store_u8(y + i, rq.clamp_round(t), m);
  }
}

void dequantize(float* y, const uint8_t* x, size_t n, float scale, int32_t zero_point) {
  const vi zp = splat_i(zero_point);
  const vf s = splat(scale);
  for (size_t i = 0; i < n; i += kVL) {
    const int m = static_cast<int>(std::min<size_t>(kVL, n - i));
    const vf v = __builtin_convertvector(load_u8(x + i, m) - zp, vf) * s;
    if (m == kVL) {
      store(y + i, v);
    } else {
      store_partial(y + i, v, m);
    }
  }
}

// ---- fast 3×3 convolutions (Winograd F(2,3), SFC-6) ---------------------------------------
// Three steps per tile (kernels/cpu/conv/int8_fast_conv.cpp has the bounds
// that make each exact): the input transform in int16 lanes, the products as
// an int16 GEMM per frequency (vpmaddwd, vpdpwssd on VNNI) with int32
// wraparound, and the output transform in uint32 lanes (wraparound again),
// divided exactly by scale² and requantized like every other int8 kernel.
typedef int16_t vs16 __attribute__((vector_size(kVL * 4)));  // 2·kVL lanes: one register
typedef int16_t vs16_mem __attribute__((vector_size(kVL * 4), aligned(2), may_alias));
typedef uint8_t vu8h_mem __attribute__((vector_size(kVL * 2), aligned(1), may_alias));
typedef uint32_t vu32 __attribute__((vector_size(kVL * 4)));
typedef uint32_t vu32_mem __attribute__((vector_size(kVL * 4), aligned(4), may_alias));
constexpr int kS16Lanes = 2 * kVL;

// acc + k·v for a transform coefficient k: the matrices are mostly ±1 and ±2,
// which an addition does without a multiplication (vpmulld is two uops).
template <class V>
inline V add_scaled(V acc, V v, int k) {
  switch (k) {
    case 1: return acc + v;
    case -1: return acc - v;
    case 2: return acc + (v + v);
    case -2: return acc - (v + v);
    default: return acc + v * static_cast<typename std::remove_reference_t<decltype(v[0])>>(k);
  }
}

inline vs16 widen_u8_s16(const uint8_t* p) {
#if KILN_SIMD_LEVEL >= 2
  return reinterpret_cast<vs16>(_mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#elif KILN_SIMD_LEVEL == 1
  return reinterpret_cast<vs16>(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#else
  return __builtin_convertvector(*reinterpret_cast<const vu8h_mem*>(p), vs16);
#endif
}

template <int kTransform>
void fast_input_t(const QFastInArgs& a) {
  constexpr const FastTransform1D& t = *kFastTransforms[kTransform];
  constexpr int n = t.n_in, T = t.terms;
  const vs16 zx = vs16{} + static_cast<int16_t>(a.x_zero_point);
  vs16 X[FastTransform1D::kMaxIn][FastTransform1D::kMaxIn];
  vs16 R[FastTransform1D::kMaxIn][FastTransform1D::kMaxTerms];
  alignas(64) uint8_t tail[kS16Lanes];
  for (int c = 0; c < a.Cp; c += kS16Lanes) {
    const int cn = std::min(kS16Lanes, a.C - c);
    for (int i = 0; i < n; ++i) {
      const int ih = a.ih0 + i;
      for (int j = 0; j < n; ++j) {
        const int iw = a.iw0 + j;
        if (cn <= 0 || ih < 0 || ih >= a.H || iw < 0 || iw >= a.W) {
          X[i][j] = vs16{};
          continue;
        }
        const uint8_t* px = a.x + (static_cast<size_t>(ih) * a.W + iw) * a.C + c;
        if (cn == kS16Lanes) {
          X[i][j] = widen_u8_s16(px) - zx;
        } else {
          // Lanes past C read the zero point, so they transform to 0.
          std::memset(tail, a.x_zero_point, sizeof tail);
          std::memcpy(tail, px, static_cast<size_t>(cn));
          X[i][j] = widen_u8_s16(tail) - zx;
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < n; ++i)
#pragma GCC unroll 10
      for (int t2 = 0; t2 < T; ++t2) {
        vs16 acc{};
#pragma GCC unroll 8
        for (int j = 0; j < n; ++j)
          if (const int k = t.bt[t2][j]) acc = add_scaled(acc, X[i][j], k);
        R[i][t2] = acc;
      }
#pragma GCC unroll 10
    for (int t1 = 0; t1 < T; ++t1)
#pragma GCC unroll 10
      for (int t2 = 0; t2 < T; ++t2) {
        vs16 acc{};
#pragma GCC unroll 8
        for (int i = 0; i < n; ++i)
          if (const int k = t.bt[t1][i]) acc = add_scaled(acc, R[i][t2], k);
        *reinterpret_cast<vs16_mem*>(a.u + static_cast<size_t>(t1 * T + t2) * a.u_stride + c) = acc;
      }
  }
}

void fast_input(const QFastInArgs& a) {
  if (a.transform == 0) {
    fast_input_t<0>(a);
  } else {
    fast_input_t<1>(a);
  }
}

// int16 panels: kS16NR columns (two vectors of int32 lanes), K in pairs:
// per pair, each column's (w[k], w[k+1]) in one int32 lane, as vpmaddwd reads them.
constexpr int kS16NR = 2 * kVL;

size_t packed_s16_size(int N, int K) {
  return static_cast<size_t>(ceil_div(N, kS16NR)) * static_cast<size_t>(K) * kS16NR * sizeof(int16_t);
}

void pack_s16(const int16_t* w, int N, int K, void* out) {
  auto* o = static_cast<int16_t*>(out);
  std::memset(out, 0, packed_s16_size(N, K));
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      const size_t panel = static_cast<size_t>(n / kS16NR) * static_cast<size_t>(K) * kS16NR;
      o[panel + (static_cast<size_t>(k / 2) * kS16NR + n % kS16NR) * 2 + k % 2] = w[static_cast<size_t>(n) * K + k];
    }
}

#if KILN_SIMD_LEVEL >= 1
inline W s16_dot(W acc, W a, W b) {
#if KILN_SIMD_LEVEL == 3
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return w_add(acc, w_madd(a, b));  // wraps like vpdpwssd: the pair sums are exact (bounded by the caller)
#endif
}
inline void w_store_i32(int32_t* p, W v) {
#if KILN_SIMD_LEVEL >= 2
  _mm512_storeu_si512(p, v);
#else
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
#endif
}

template <int R>
void s16_tile(const int16_t* a, size_t lda, const int16_t* b, int pairs, int32_t* c, size_t ldc) {
  W acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = w_zero();
  for (int q = 0; q < pairs; ++q) {
    const auto* bq = reinterpret_cast<const uint8_t*>(b + static_cast<size_t>(q) * kS16NR * 2);
    const W b0 = w_load(bq), b1 = w_load(bq + kVL * 4);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      uint32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * q, 4);
      const W av = w_splat(pair);
      acc[r][0] = s16_dot(acc[r][0], av, b0);
      acc[r][1] = s16_dot(acc[r][1], av, b1);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    w_store_i32(c + r * ldc, acc[r][0]);
    w_store_i32(c + r * ldc + kVL, acc[r][1]);
  }
}
#if KILN_SIMD_LEVEL >= 2
constexpr int kS16MR = 8;  // 16 zmm accumulators
#else
constexpr int kS16MR = 6;  // 12 ymm accumulators, two weight vectors, a broadcast
#endif
using S16Tile = void (*)(const int16_t*, size_t, const int16_t*, int, int32_t*, size_t);
template <size_t... I>
constexpr std::array<S16Tile, sizeof...(I)> make_s16_tiles(std::index_sequence<I...>) {
  return {&s16_tile<static_cast<int>(I) + 1>...};
}
constexpr auto kS16Tiles = make_s16_tiles(std::make_index_sequence<kS16MR>{});

void gemm_s16(const QGemmS16Args& g) {
  const size_t panel = static_cast<size_t>(g.k_total) * kS16NR;
  const auto* b0 = static_cast<const int16_t*>(g.b) + static_cast<size_t>(g.k_begin) * kS16NR;
  for (int n = 0; n < g.N; n += kS16NR) {
    const int16_t* b = b0 + static_cast<size_t>(n / kS16NR) * panel;
    for (int m = 0; m < g.M; m += kS16MR) {
      const int rows = std::min(kS16MR, g.M - m);
      kS16Tiles[static_cast<size_t>(rows - 1)](g.a + static_cast<size_t>(m) * g.lda, g.lda, b, g.K / 2,
                                               g.c + static_cast<size_t>(m) * g.ldc + n, g.ldc);
    }
  }
}
#else
void gemm_s16(const QGemmS16Args& g) {
  const size_t panel = static_cast<size_t>(g.k_total) * kS16NR;
  const auto* b0 = static_cast<const int16_t*>(g.b) + static_cast<size_t>(g.k_begin) * kS16NR;
  const int cols = round_up(g.N, kS16NR);
  for (int m = 0; m < g.M; ++m)
    for (int n = 0; n < cols; ++n) {
      const int16_t* b = b0 + static_cast<size_t>(n / kS16NR) * panel + (n % kS16NR) * 2;
      const int16_t* a = g.a + static_cast<size_t>(m) * g.lda;
      uint32_t acc = 0;  // unsigned: the wraparound the SIMD levels have, without signed overflow
      for (int k = 0; k < g.K; k += 2)
        acc += static_cast<uint32_t>(a[k] * b[static_cast<size_t>(k / 2) * kS16NR * 2] +
                                     a[k + 1] * b[static_cast<size_t>(k / 2) * kS16NR * 2 + 1]);
      g.c[static_cast<size_t>(m) * g.ldc + n] = static_cast<int32_t>(acc);
    }
}
#endif

template <int kTransform>
void fast_output_t(const QFastOutArgs& a) {
  constexpr const FastTransform1D& t = *kFastTransforms[kTransform];
  constexpr int T = t.terms, m = t.n_out;
  // scale² = 2^shift · odd: an arithmetic shift, then the odd part's inverse modulo 2^32.
  constexpr uint32_t s2 = static_cast<uint32_t>(t.scale * t.scale);
  const int shift = __builtin_ctz(s2);
  const uint32_t odd = s2 >> shift;
  uint32_t inv = odd;  // Newton's iteration doubles the correct low bits: 3 → 6 → 12 → 24 → 48
  for (int i = 0; i < 4; ++i) inv *= 2 - odd * inv;
  const RqConst rq(a.rq);
  vu32 P[FastTransform1D::kMaxTerms];
  vu32 tmp[FastTransform1D::kMaxTerms][FastTransform1D::kMaxOut];
  for (int n0 = 0; n0 < a.N; n0 += kVL) {
    const int nn = std::min(kVL, a.N - n0);
#pragma GCC unroll 10
    for (int t1 = 0; t1 < T; ++t1) {
#pragma GCC unroll 10
      for (int t2 = 0; t2 < T; ++t2)
        P[t2] = *reinterpret_cast<const vu32_mem*>(a.p + static_cast<size_t>(t1 * T + t2) * a.p_stride + n0);
#pragma GCC unroll 6
      for (int j = 0; j < m; ++j) {
        vu32 acc{};
#pragma GCC unroll 10
        for (int t2 = 0; t2 < T; ++t2)
          if (const int k = t.at[j][t2]) acc = add_scaled(acc, P[t2], k);
        tmp[t1][j] = acc;
      }
    }
    const vf mult = a.accumulate ? vf{} : multipliers(a.rq, static_cast<size_t>(n0), nn);
    const vi bias = a.accumulate ? vi{} : load_i(a.bias + n0, nn);
#pragma GCC unroll 6
    for (int i = 0; i < m; ++i)
#pragma GCC unroll 6
      for (int j = 0; j < m; ++j) {
        vu32 acc{};
#pragma GCC unroll 10
        for (int t1 = 0; t1 < T; ++t1)
          if (const int k = t.at[i][t1]) acc = add_scaled(acc, tmp[t1][j], k);
        const vu32 z = reinterpret_cast<vu32>(reinterpret_cast<vi>(acc) >> shift) * inv;
        int32_t* part = a.partial ? a.partial + static_cast<size_t>(i * m + j) * round_up(a.N, 32) + n0 : nullptr;
        if (a.accumulate) {
          *reinterpret_cast<vu32_mem*>(part) += z;
          continue;
        }
        if (i >= a.rows || j >= a.cols) continue;
        vu32 sum = z + reinterpret_cast<vu32>(bias);
        if (part) sum += *reinterpret_cast<const vu32_mem*>(part);
        store_u8(a.y + static_cast<size_t>(i) * a.y_row + static_cast<size_t>(j) * a.y_pixel + n0,
                 rq.requantize(reinterpret_cast<vi>(sum), mult), nn);
      }
  }
}

void fast_output(const QFastOutArgs& a) {
  if (a.transform == 0) {
    fast_output_t<0>(a);
  } else {
    fast_output_t<1>(a);
  }
}

}  // namespace

extern const Int8Kernels kInt8Kernels;
const Int8Kernels kInt8Kernels = {KILN_SIMD_NAME, kVL,      packed_b_size,   pack_b,   gemm,       depthwise,
                                  add,            global_avgpool, max_pool, quantize, dequantize, kS16NR,
                                  packed_s16_size, pack_s16,  gemm_s16, fast_input, fast_output};

}  // namespace kiln::cpu::KILN_SIMD_NS
