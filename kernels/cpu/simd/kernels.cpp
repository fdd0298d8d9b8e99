// Every SIMD kernel of the CPU backend, written once with GCC vector
// extensions and compiled per ISA level (see simd/vec.hpp). Loops vectorise
// along channels (NHWC) or along GEMM columns.
#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/cpu/simd/simd_kernels.hpp"
#include "kernels/cpu/simd/vec.hpp"

namespace kiln::cpu::KILN_SIMD_NS {
namespace {

#if KILN_SIMD_LEVEL >= 2
constexpr int kMR = 8;  // 16 accumulators of 32 zmm registers
#else
constexpr int kMR = 6;  // 12 accumulators of 16 ymm/xmm registers
#endif
// conv/gemm_driver.hpp sizes its row pointers for at most 8 rows.
static_assert(kMR <= 8);
constexpr int kNV = 2;  // vectors per tile row
constexpr int kNR = kNV * kVL;

// ---- activations ------------------------------------------------------------
// Kinds follow fb::ActivationKind.
enum : uint8_t { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh };

inline vf activate(vf x, const Activation& act) {
  switch (act.kind) {
    case kNone: return x;
    case kRelu: return vmax(x, vf{});
    case kClip: return vmax(vmin(x, splat(act.beta)), splat(act.alpha));
    case kLeakyRelu: return x >= vf{} ? x : x * act.alpha;
    case kHardSigmoid: return vmax(vmin(vfma(x, act.alpha, act.beta), splat(1.0f)), vf{});
    case kHardSwish: return x * vmax(vmin(vfma(x, 1.0f / 6.0f, 0.5f), splat(1.0f)), vf{});
    case kSigmoid: return 1.0f / (1.0f + vexp(-x));
    case kTanh: {
      // tanh|x| = (1 - e^-2|x|) / (1 + e^-2|x|), then x's sign.
      const vi sign = reinterpret_cast<vi>(x) & (vi{} + static_cast<int>(0x80000000u));
      const vf e = vexp(-2.0f * vmax(x, -x));
      return reinterpret_cast<vf>(reinterpret_cast<vi>((1.0f - e) / (1.0f + e)) | sign);
    }
  }
  return x;
}

// The activation with its kind known at compile time (kAny: read at run time),
// so that inner loops carry no switch.
constexpr int kAny = -1;
template <int ACT>
inline vf activate_as(vf x, const Activation& act) {
  if constexpr (ACT == kNone) return x;
  else if constexpr (ACT == kRelu) return vmax(x, vf{});
  else if constexpr (ACT == kClip) return vmax(vmin(x, splat(act.beta)), splat(act.alpha));
  else return activate(x, act);
}
// f.template operator()<ACT>() for `kind`: the common kinds as compile-time
// constants, the others as kAny.
template <class F>
inline void with_activation(uint8_t kind, F&& f) {
  switch (kind) {
    case kNone: return f.template operator()<kNone>();
    case kRelu: return f.template operator()<kRelu>();
    case kClip: return f.template operator()<kClip>();
    default: return f.template operator()<kAny>();
  }
}

// ---- GEMM register tile ---------------------------------------------------------
// R rows and NV vectors of the tile are computed: the smallest R >= m and
// NV >= n/kVL, so that short tiles (a GEMV, the last rows of a layer) and
// narrow ones (16 output channels on AVX-512, whose panel is half zeros)
// waste no FMAs.
template <int R, int NV, bool PF>
void gemm_tile_rows(const MicroTile& t) {
  static_assert((NV == 1 || NV == 2) && NV <= kNV);
  vf acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};

  const float* b = t.b;
  // One prefetch line per K step (two when the slice has more lines than
  // the tile has steps): ResNet-50's 7×7 layers ran about 5% faster than with
  // two lines per step from the start of every tile, whose burst crowded the
  // line-fill buffers the B loads need; spreading the lines exactly evenly
  // cost MobileNetV2's short tiles 3% in bookkeeping.
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  const int64_t pf_lines = (reinterpret_cast<const char*>(t.prefetch_end) - pf) / 64;
  const int64_t k_steps = int64_t{t.nseg} * t.seg_len;
  const char* const pf_end = pf + pf_lines * 64;
  const bool two_per_step = pf_lines > k_steps;
  for (int s = 0; s < t.nseg; ++s) {
    const float* a[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) a[r] = t.a[s * kMR + r];
    for (int k = 0; k < t.seg_len; ++k) {
      if constexpr (PF) {
        if (pf < pf_end) {
          __builtin_prefetch(pf, 0, 2);
          pf += 64;
          if (two_per_step) {
            __builtin_prefetch(pf, 0, 2);
            pf += 64;
          }
        }
      }
      if constexpr (NV == 2) {
        const vf b0 = load(b);
        const vf b1 = load(b + kVL);
        b += kNR;
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const vf ar = splat(a[r][k]);
          acc[r][0] = vfma(ar, b0, acc[r][0]);
          acc[r][1] = vfma(ar, b1, acc[r][1]);
        }
      } else {
        const vf b0 = load(b);
        b += kNR;
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][0] = vfma(splat(a[r][k]), b0, acc[r][0]);
      }
    }
  }

  // The epilogue on whole registers: the sums of earlier K blocks, bias and
  // residual added in the same order as ever, then one activation switch
  // for the tile (not one per vector: with K = 16 to 64, MobileNetV2's
  // expand layers spent a tenth of their time in the per-vector dispatch),
  // then the stores. Rows past m hold copies of row m-1 and are not stored.
  int nv[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) nv[v] = std::min(kVL, t.n - v * kVL);
  auto ld = [](const float* p, int n) { return n == kVL ? load(p) : load_partial(p, n); };
  // acc += the tile's rows of a matrix with rows `stride` floats apart.
  auto add_rows = [&](const float* base, size_t stride) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        if (r < t.m && nv[v] > 0) acc[r][v] += ld(base + static_cast<size_t>(r) * stride + v * kVL, nv[v]);
  };
  if (t.accumulate) add_rows(t.c, t.ldc);
  if (t.final) {
    if (t.bias) {
      vf bias[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bias[v] = nv[v] > 0 ? ld(t.bias + v * kVL, nv[v]) : vf{};
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] += bias[v];
    }
    if (t.residual) add_rows(t.residual, t.ldr);
    with_activation(t.act.kind, [&]<int ACT>() {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = activate_as<ACT>(acc[r][v], t.act);
    });
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (r >= t.m) break;
    float* c = t.c + static_cast<size_t>(r) * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (nv[v] == kVL) store(c + v * kVL, acc[r][v]);
      else if (nv[v] > 0) store_partial(c + v * kVL, acc[r][v], nv[v]);
    }
  }
}

template <int NV, bool PF>
void gemm_tile_cols(const MicroTile& t) {
  if (t.m <= 1) return gemm_tile_rows<1, NV, PF>(t);
  if (t.m <= 2) return gemm_tile_rows<2, NV, PF>(t);
  if (t.m <= 4) return gemm_tile_rows<4, NV, PF>(t);
  gemm_tile_rows<kMR, NV, PF>(t);
}

void gemm_tile(const MicroTile& t) {
  // The K loop without the prefetch bookkeeping when there is none to do.
  const bool pf = t.prefetch_end - t.prefetch >= 16;
  if (t.n <= kVL) return pf ? gemm_tile_cols<1, true>(t) : gemm_tile_cols<1, false>(t);
  pf ? gemm_tile_cols<kNV, true>(t) : gemm_tile_cols<kNV, false>(t);
}

// ---- depthwise convolution (NHWC, vectorised along channels) -----------------------
inline const float* input_row(const DepthwiseArgs& a, int ih) {
  return a.x_rows ? a.x_rows[ih] : a.x + static_cast<size_t>(ih) * a.W * a.C;
}

// B neighbouring outputs at unit dilation and stride S: each input column
// is loaded once and used by every output whose window covers it, and the B
// sums are independent chains of FMAs (one output's K·K FMAs depend on each
// other: four sums left the FMA units half idle waiting on their latency).
// A null row is vertical padding (its taps are skipped).
template <int K, int S, int B>
inline void block_outputs(const float* const* rows, size_t col, int C, const vf* w, vf* acc) {
#pragma GCC unroll 5
  for (int kh = 0; kh < K; ++kh) {
    if (!rows[kh]) continue;
    const float* row = rows[kh] + col;
    vf v[(B - 1) * S + K];
#pragma GCC unroll 32
    for (int j = 0; j < (B - 1) * S + K; ++j) v[j] = load(row + static_cast<size_t>(j) * C);
#pragma GCC unroll 8
    for (int o = 0; o < B; ++o)
#pragma GCC unroll 5
      for (int kw = 0; kw < K; ++kw) acc[o] = vfma(v[o * S + kw], w[kh * K + kw], acc[o]);
  }
}

// Outputs per interior block: eight where 32 vector registers hold their
// sums, the taps and the input columns; four with 16.
constexpr int kDwBlock = kVL >= 16 ? 8 : 4;

// Loads the K·K weights (and the bias) of channels [c, c + nc).
template <int K>
inline void load_taps(const DepthwiseArgs& a, int c, int nc, vf* w, vf* bias) {
  const int C = a.C;
  for (int i = 0; i < K * K; ++i)
    w[i] = nc == kVL ? load(a.w + static_cast<size_t>(i) * C + c) : load_partial(a.w + static_cast<size_t>(i) * C + c, nc);
  *bias = a.bias ? (nc == kVL ? load(a.bias + c) : load_partial(a.bias + c, nc)) : vf{};
}

// One output with any geometry, padding checked per tap, for NC channel
// vectors at once (NC independent sums: the edge columns of small images, two
// of seven at 7×7, went one latency-bound sum at a time). The last vector
// holds nc channels (fewer than a vector only when NC = 1).
template <int K, int ACT, int NC>
inline void depthwise_one(const DepthwiseArgs& a, int oh, int ow, int c, int nc) {
  const int C = a.C;
  const int ih0 = oh * a.sh - a.pt, iw0 = ow * a.sw - a.pl;
  auto ld = [&](const float* p, int j) { return j < NC - 1 || nc == kVL ? load(p) : load_partial(p, nc); };
  vf acc[NC];
#pragma GCC unroll 8
  for (int j = 0; j < NC; ++j) acc[j] = a.bias ? ld(a.bias + c + j * kVL, j) : vf{};
  for (int kh = 0; kh < K; ++kh) {
    const int ih = ih0 + kh * a.dh;
    if (ih < 0 || ih >= a.H) continue;
    const float* row = input_row(a, ih) + c;
    for (int kw = 0; kw < K; ++kw) {
      const int iw = iw0 + kw * a.dw;
      if (iw < 0 || iw >= a.W) continue;
      const float* p = row + static_cast<size_t>(iw) * C;
      const float* q = a.w + static_cast<size_t>(kh * K + kw) * C + c;
#pragma GCC unroll 8
      for (int j = 0; j < NC; ++j) acc[j] = vfma(ld(p + j * kVL, j), ld(q + j * kVL, j), acc[j]);
    }
  }
  float* out = a.y + (static_cast<size_t>(oh - a.y_first_row) * a.OW + ow) * C + c;
#pragma GCC unroll 8
  for (int j = 0; j < NC; ++j) {
    const vf y = activate_as<ACT>(acc[j], a.act);
    if (j < NC - 1 || nc == kVL) store(out + j * kVL, y);
    else store_partial(out + j * kVL, y, nc);
  }
}

// Taps and activation known at compile time. At unit dilation and stride 1
// or 2, the interior columns of a row run in blocks of kDwBlock outputs, then
// four (rows above or below the input skipped), with the channel loop inside
// so that the K input rows of a block (a few columns × all channels) stay in
// L1 while every channel block uses them. Edge columns, the last partial
// channel block and other geometries go one output at a time, four channel
// vectors at once where there are that many.
template <int K, int ACT>
void depthwise_fixed(const DepthwiseArgs& a) {
  constexpr int B = kDwBlock;
  const int C = a.C;
  const int S = a.sw;
  const int c_full = C / kVL * kVL;  // channels in whole vectors
  const bool blockable = a.dh == 1 && a.dw == 1 && (S == 1 || S == 2) && c_full > 0;
  // The columns of whole blocks of B (then of 4) whose windows lie inside the input.
  int ow_lo = 0, ow_mid = 0, ow_hi = 0;
  if (blockable) {
    while (ow_lo < a.OW && ow_lo * S - a.pl < 0) ++ow_lo;
    ow_mid = ow_lo;
    while (ow_mid + B <= a.OW && (ow_mid + B - 1) * S - a.pl + K - 1 < a.W) ow_mid += B;
    ow_hi = ow_mid;
    while (ow_hi + 4 <= a.OW && (ow_hi + 3) * S - a.pl + K - 1 < a.W) ow_hi += 4;
  }
  constexpr int kWide = 4;  // channel vectors per edge output
  const int c_wide = c_full / (kWide * kVL) * (kWide * kVL);
  for (int oh = a.oh_begin; oh < a.oh_end; ++oh) {
    const int ih0 = oh * a.sh - a.pt;
    if (blockable && ow_hi > ow_lo) {
      const float* rows[K];
      for (int kh = 0; kh < K; ++kh) rows[kh] = ih0 + kh >= 0 && ih0 + kh < a.H ? input_row(a, ih0 + kh) : nullptr;
      float* out_row = a.y + static_cast<size_t>(oh - a.y_first_row) * a.OW * C;
      auto blocks = [&]<int BB>(int from, int to) {
        for (int ow = from; ow < to; ow += BB) {
          const size_t col = static_cast<size_t>(ow * S - a.pl) * C;
          for (int c = 0; c < c_full; c += kVL) {
            vf w[K * K], bias;
            load_taps<K>(a, c, kVL, w, &bias);
            vf acc[BB];
#pragma GCC unroll 8
            for (int o = 0; o < BB; ++o) acc[o] = bias;
            if (S == 1) block_outputs<K, 1, BB>(rows, col + c, C, w, acc);
            else block_outputs<K, 2, BB>(rows, col + c, C, w, acc);
#pragma GCC unroll 8
            for (int o = 0; o < BB; ++o)
              store(out_row + static_cast<size_t>(ow + o) * C + c, activate_as<ACT>(acc[o], a.act));
          }
        }
      };
      blocks.template operator()<B>(ow_lo, ow_mid);
      if constexpr (B != 4) blocks.template operator()<4>(ow_mid, ow_hi);
    }
    // Everything else: the edge columns several channel vectors at a time,
    // then the last partial channel block one output at a time.
    for (int ow = 0; ow < a.OW; ++ow) {
      if (blockable && ow == ow_lo) ow = ow_hi;
      if (ow >= a.OW) break;
      for (int c = 0; c < c_wide; c += kWide * kVL) depthwise_one<K, ACT, kWide>(a, oh, ow, c, kVL);
    }
    for (int c = c_wide; c < C; c += kVL) {
      const int nc = std::min(kVL, C - c);
      const bool in_blocks = blockable && nc == kVL;
      for (int ow = 0; ow < a.OW; ++ow) {
        if (in_blocks && ow == ow_lo) ow = ow_hi;
        if (ow >= a.OW) break;
        depthwise_one<K, ACT, 1>(a, oh, ow, c, nc);
      }
    }
  }
}

template <int K>
void depthwise_taps(const DepthwiseArgs& a) {
  with_activation(a.act.kind, [&]<int ACT>() { depthwise_fixed<K, ACT>(a); });
}

void depthwise_any(const DepthwiseArgs& a) {
  const int C = a.C;
  for (int oh = a.oh_begin; oh < a.oh_end; ++oh) {
    for (int ow = 0; ow < a.OW; ++ow) {
      for (int c = 0; c < C; c += kVL) {
        const int nc = std::min(kVL, C - c);
        vf acc = a.bias ? (nc == kVL ? load(a.bias + c) : load_partial(a.bias + c, nc)) : vf{};
        for (int kh = 0; kh < a.KH; ++kh) {
          const int ih = oh * a.sh - a.pt + kh * a.dh;
          if (ih < 0 || ih >= a.H) continue;
          for (int kw = 0; kw < a.KW; ++kw) {
            const int iw = ow * a.sw - a.pl + kw * a.dw;
            if (iw < 0 || iw >= a.W) continue;
            const float* p = input_row(a, ih) + static_cast<size_t>(iw) * C + c;
            const float* q = a.w + static_cast<size_t>(kh * a.KW + kw) * C + c;
            acc = nc == kVL ? vfma(load(p), load(q), acc) : vfma(load_partial(p, nc), load_partial(q, nc), acc);
          }
        }
        acc = activate(acc, a.act);
        float* out = a.y + (static_cast<size_t>(oh - a.y_first_row) * a.OW + ow) * C + c;
        if (nc == kVL) store(out, acc);
        else store_partial(out, acc, nc);
      }
    }
  }
}

void depthwise(const DepthwiseArgs& a) {
  if (a.KH == 3 && a.KW == 3) return depthwise_taps<3>(a);
  if (a.KH == 5 && a.KW == 5) return depthwise_taps<5>(a);
  depthwise_any(a);
}

// ---- pooling (NHWC) ------------------------------------------------------------------
// Up to kPoolVecs channel vectors of a pixel at once: their max (or sum)
// chains are independent, and the window's bounds are checked once per tap
// for all of them (one vector per pass left ResNet-50's 3×3 max pool waiting
// on vmax latency).
constexpr int kPoolVecs = 4;
template <bool MAX>
void pool_as(const PoolArgs& a) {
  const int C = a.C;
  for (int oh = a.oh_begin; oh < a.oh_end; ++oh) {
    const int h0 = oh * a.sh - a.pt;
    int rows = 0, valid_rows = 0;
    for (int kh = 0; kh < a.KH; ++kh) {
      const int ih = h0 + kh * a.dh;
      rows += ih < a.H + a.pb;
      valid_rows += ih >= 0 && ih < a.H;
    }
    for (int ow = 0; ow < a.OW; ++ow) {
      // The window clipped to the input, and (for the average) the divisor.
      const int w0 = ow * a.sw - a.pl;
      int valid_cols = 0, cols = 0;
      for (int kw = 0; kw < a.KW; ++kw) {
        const int iw = w0 + kw * a.dw;
        valid_cols += iw >= 0 && iw < a.W;
        cols += iw < a.W + a.pr;
      }
      // count_include_pad counts taps inside the explicit padding, but not
      // those past it (which ceil_mode can add).
      const int count = a.count_include_pad ? rows * cols : valid_rows * valid_cols;
      const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
      float* out = a.y + (static_cast<size_t>(oh) * a.OW + ow) * C;
      for (int c0 = 0; c0 < C; c0 += kPoolVecs * kVL) {
        const int nv = std::min(kPoolVecs, (C - c0 + kVL - 1) / kVL);
        const int last = C - c0 - (nv - 1) * kVL;  // lanes of the last vector
        vf acc[kPoolVecs];
#pragma GCC unroll 4
        for (int v = 0; v < kPoolVecs; ++v) acc[v] = MAX ? splat(-INFINITY) : vf{};
        for (int kh = 0; kh < a.KH; ++kh) {
          const int ih = h0 + kh * a.dh;
          if (ih < 0 || ih >= a.H) continue;
          for (int kw = 0; kw < a.KW; ++kw) {
            const int iw = w0 + kw * a.dw;
            if (iw < 0 || iw >= a.W) continue;
            const float* p = a.x + (static_cast<size_t>(ih) * a.W + iw) * C + c0;
#pragma GCC unroll 4
            for (int v = 0; v < kPoolVecs; ++v) {
              if (v >= nv) break;
              const vf x = v == nv - 1 && last < kVL ? load_partial(p + v * kVL, last) : load(p + v * kVL);
              acc[v] = MAX ? vmax(acc[v], x) : acc[v] + x;
            }
          }
        }
#pragma GCC unroll 4
        for (int v = 0; v < kPoolVecs; ++v) {
          if (v >= nv) break;
          const vf r = MAX ? acc[v] : acc[v] * scale;
          if (v == nv - 1 && last < kVL) store_partial(out + c0 + v * kVL, r, last);
          else store(out + c0 + v * kVL, r);
        }
      }
    }
  }
}

void pool(const PoolArgs& a) { a.is_max ? pool_as<true>(a) : pool_as<false>(a); }

// ---- elementwise ---------------------------------------------------------------------
void activation(float* y, const float* x, size_t n, Activation act) {
  size_t i = 0;
  for (; i + kVL <= n; i += kVL) store(y + i, activate(load(x + i), act));
  if (i < n) store_partial(y + i, activate(load_partial(x + i, static_cast<int>(n - i)), act), static_cast<int>(n - i));
}

inline vf apply(BinaryOp op, vf a, vf b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

void binary(float* y, const float* a, const float* b, size_t n, BinaryOp op, Activation act) {
  size_t i = 0;
  for (; i + kVL <= n; i += kVL) store(y + i, activate(apply(op, load(a + i), load(b + i)), act));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    store_partial(y + i, activate(apply(op, load_partial(a + i, r), load_partial(b + i, r)), act), r);
  }
}

void binary_channel(float* y, const float* a, const float* b, size_t pixels, size_t C, BinaryOp op, bool b_first,
                    Activation act) {
  for (size_t p = 0; p < pixels; ++p) {
    const float* ap = a + p * C;
    float* yp = y + p * C;
    for (size_t c = 0; c < C; c += kVL) {
      const int nc = static_cast<int>(std::min<size_t>(kVL, C - c));
      const vf va = nc == kVL ? load(ap + c) : load_partial(ap + c, nc);
      const vf vb = nc == kVL ? load(b + c) : load_partial(b + c, nc);
      const vf r = activate(b_first ? apply(op, vb, va) : apply(op, va, vb), act);
      if (nc == kVL) store(yp + c, r);
      else store_partial(yp + c, r, nc);
    }
  }
}

void global_pool(float* y, const float* x, size_t pixels, size_t C, bool is_max) {
  for (size_t c = 0; c < C; c += kVL) {
    const int nc = static_cast<int>(std::min<size_t>(kVL, C - c));
    vf acc = is_max ? splat(-INFINITY) : vf{};
    for (size_t p = 0; p < pixels; ++p) {
      const float* q = x + p * C + c;
      const vf v = nc == kVL ? load(q) : load_partial(q, nc);
      acc = is_max ? vmax(acc, v) : acc + v;
    }
    if (!is_max) acc = acc * (1.0f / static_cast<float>(pixels));
    if (nc == kVL) store(y + c, acc);
    else store_partial(y + c, acc, nc);
  }
}


// ---- Winograd F(4×4, 3×3) 1-D transforms (vectorised along channels) ---------------
// The matrices of Lavin & Gray (2016) for the interpolation points 0, ±1, ±2, ∞.
// y = Bᵀ x for six values.
inline void winograd_bt(const vf x[6], vf y[6]) {
  const vf a = vfma(x[2], -4.0f, x[4]), b = vfma(x[1], -4.0f, x[3]);
  const vf c = x[4] - x[2], e = (x[3] - x[1]) * 2.0f;
  y[0] = vfma(x[0], 4.0f, vfma(x[2], -5.0f, x[4]));
  y[1] = a + b;
  y[2] = a - b;
  y[3] = c + e;
  y[4] = c - e;
  y[5] = vfma(x[1], 4.0f, vfma(x[3], -5.0f, x[5]));
}

// y = Aᵀ x: four values from six.
inline void winograd_at(const vf x[6], vf y[4]) {
  const vf s1 = x[1] + x[2], d1 = x[1] - x[2], s2 = x[3] + x[4], d2 = x[3] - x[4];
  y[0] = x[0] + s1 + s2;
  y[1] = vfma(d2, 2.0f, d1);
  y[2] = vfma(s2, 4.0f, s1);
  y[3] = vfma(d2, 8.0f, d1) + x[5];
}

inline vf winograd_load(const float* p, int n) { return n == kVL ? load(p) : load_partial(p, n); }
inline void winograd_store(float* p, vf v, int n) {
  if (n == kVL) store(p, v);
  else store_partial(p, v, n);
}

// ---- Winograd F(2×2, 3×3) and F(6×6, 3×3) 1-D transforms ---------------------------
// F(2,3) uses the points 0, ±1, ∞: its matrices have only 0 and ±1, so the
// generic form below (coefficients as template arguments, products by 0
// dropped and ±1 turned into additions at compile time) is already minimal.
constexpr float kBt23[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr float kAt23[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

// F(6,3), points 0, ±1, ±2, ±1/2, ∞ (Lavin & Gray's Bᵀ and Aᵀ), factored by
// hand: rows come in pairs y = t1 ± t2 with t1 from the even inputs and t2
// from the odd ones, 26 operations for Bᵀ where the plain matrix takes 44
// (and 20 for Aᵀ where it takes 38).
inline void winograd63_bt(const vf x[8], vf y[8]) {
  y[0] = vfma(x[4] - x[2], 5.25f, x[0] - x[6]);
  y[7] = vfma(x[3] - x[5], 5.25f, x[7] - x[1]);
  const vf a1 = vfma(x[4], -4.25f, x[2] + x[6]), b1 = vfma(x[3], -4.25f, x[1] + x[5]);
  y[1] = a1 + b1;
  y[2] = a1 - b1;
  const vf a2 = vfma(x[4], -1.25f, vfma(x[2], 0.25f, x[6])), b2 = vfma(x[5], 2.0f, vfma(x[3], -2.5f, x[1] * 0.5f));
  y[3] = a2 + b2;
  y[4] = a2 - b2;
  const vf a3 = vfma(x[4], -5.0f, vfma(x[2], 4.0f, x[6])), b3 = vfma(x[5], 0.5f, vfma(x[3], -2.5f, x[1] * 2.0f));
  y[5] = a3 + b3;
  y[6] = a3 - b3;
}
inline void winograd63_at(const vf x[8], vf y[6]) {
  const vf s12 = x[1] + x[2], d12 = x[1] - x[2], s34 = x[3] + x[4], d34 = x[3] - x[4], s56 = x[5] + x[6],
           d56 = x[5] - x[6];
  y[0] = x[0] + s12 + s34 + s56;
  y[1] = vfma(d56, 0.5f, vfma(d34, 2.0f, d12));
  y[2] = vfma(s56, 0.25f, vfma(s34, 4.0f, s12));
  y[3] = vfma(d56, 0.125f, vfma(d34, 8.0f, d12));
  y[4] = vfma(s56, 0.0625f, vfma(s34, 16.0f, s12));
  y[5] = vfma(d56, 0.03125f, vfma(d34, 32.0f, d12)) + x[7];
}

// Σ_j A[I][j]·x[j] from column J on, added to acc.
template <const auto& A, int I, int J, int T>
inline vf row_sum(const vf* x, vf acc) {
  if constexpr (J == T) {
    return acc;
  } else {
    constexpr float a = A[I][J];
    if constexpr (a == 0.0f) return row_sum<A, I, J + 1, T>(x, acc);
    else if constexpr (a == 1.0f) return row_sum<A, I, J + 1, T>(x, acc + x[J]);
    else if constexpr (a == -1.0f) return row_sum<A, I, J + 1, T>(x, acc - x[J]);
    else return row_sum<A, I, J + 1, T>(x, vfma(x[J], a, acc));
  }
}
// Row I of A·x, started from its first nonzero term (no addition of zero).
template <const auto& A, int I, int J, int T>
inline vf row_first(const vf* x) {
  constexpr float a = A[I][J];
  if constexpr (a == 0.0f) return row_first<A, I, J + 1, T>(x);
  else if constexpr (a == 1.0f) return row_sum<A, I, J + 1, T>(x, x[J]);
  else if constexpr (a == -1.0f) return row_sum<A, I, J + 1, T>(x, -x[J]);
  else return row_sum<A, I, J + 1, T>(x, x[J] * a);
}
template <const auto& A, int R, int T, size_t... I>
inline void mat_apply(const vf* x, vf* y, std::index_sequence<I...>) {
  ((y[I] = row_first<A, static_cast<int>(I), 0, T>(x)), ...);
}
template <const auto& A, int R, int T>
inline void mat_apply(const vf* x, vf* y) {
  mat_apply<A, R, T>(x, y, std::make_index_sequence<R>{});
}

template <const auto& A, int R, int T>
void mat_apply_fn(const vf* x, vf* y) {
  mat_apply<A, R, T>(x, y);
}

// t = F applied to each of the T columns of a T×T tile (point r·T + j at
// src[r·T + j] + c), R values per column.
template <int T, int R, void (*F)(const vf*, vf*)>
inline void transform_columns(const float* const* src, int c, int nc, vf (*t)[T]) {
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) {
    vf x[T], y[R];
#pragma GCC unroll 8
    for (int r = 0; r < T; ++r) x[r] = winograd_load(src[r * T + j] + c, nc);
    F(x, y);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) t[r][j] = y[r];
  }
}

// One tile's 2-D transform from the 1-D ones (columns, then rows): T = M + 2
// input points per side, M outputs; BT maps T values to T, AT T values to M.
template <int T, int M, void (*BT)(const vf*, vf*), void (*AT)(const vf*, vf*)>
void winograd_tile(const WinogradArgs& a) {
  for (int c = 0; c < a.n; c += kVL) {
    const int nc = std::min(kVL, a.n - c);
    if (!a.output) {
      vf t[T][T];  // Bᵀ d; then each row times B
      transform_columns<T, T, BT>(a.src, c, nc, t);
#pragma GCC unroll 8
      for (int i = 0; i < T; ++i) {
        vf y[T];
        BT(t[i], y);
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) winograd_store(a.dst[i * T + j] + c, y[j], nc);
      }
    } else {
      vf t[M][T];  // Aᵀ m; then each row times A
      transform_columns<T, M, AT>(a.src, c, nc, t);
      const vf bias = a.bias ? winograd_load(a.bias + c, nc) : vf{};
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) {
        vf y[M];
        AT(t[i], y);
#pragma GCC unroll 8
        for (int j = 0; j < M; ++j) {
          float* out = a.dst[i * M + j];
          if (!out) continue;
          vf v = y[j] + bias;
          const float* res = a.residual ? a.residual[i * M + j] : nullptr;
          if (res) v += winograd_load(res + c, nc);
          winograd_store(out + c, activate(v, a.act), nc);
        }
      }
    }
  }
}

void winograd_f23(const WinogradArgs& a) {
  winograd_tile<4, 2, mat_apply_fn<kBt23, 4, 4>, mat_apply_fn<kAt23, 2, 4>>(a);
}
void winograd_f43(const WinogradArgs& a) { winograd_tile<6, 4, winograd_bt, winograd_at>(a); }
void winograd_f63(const WinogradArgs& a) { winograd_tile<8, 6, winograd63_bt, winograd63_at>(a); }

// Softmax over `len` values spaced `inner` apart, for every (outer, inner)
// position: max, exponentials and their sum, then one scale.
void softmax(float* y, const float* x, size_t outer, size_t len, size_t inner) {
  if (len == 0) return;  // an empty tensor: the strided loop below would read its first row
  for (size_t o = 0; o < outer; ++o) {
    const float* xo = x + o * len * inner;
    float* yo = y + o * len * inner;
    if (inner == 1) {  // contiguous: vectorised along the axis
      size_t k = 0;
      vf mx = splat(-__builtin_inff());
      for (; k + kVL <= len; k += kVL) mx = vmax(mx, load(xo + k));
      float m = mx[0];
      for (int l = 1; l < kVL; ++l) m = std::max(m, mx[l]);
      for (; k < len; ++k) m = std::max(m, xo[k]);
      // The sum in an order no vector width changes: element k goes to
      // partial sum k % 16 (the lanes of kParts vectors), and the 16 are
      // added pairwise at the end. Lanes past the end add +0, which changes
      // no sum of exponentials.
      constexpr int kParts = 16 / kVL;
      vf part[kParts] = {};
      for (k = 0; k < len; k += kParts * kVL) {
#pragma GCC unroll 4
        for (int j = 0; j < kParts; ++j) {
          const size_t at = k + static_cast<size_t>(j) * kVL;
          if (at + kVL <= len) {
            const vf e = vexp(load(xo + at) - m);
            store(yo + at, e);
            part[j] += e;
          } else if (at < len) {
            const int rest = static_cast<int>(len - at);
            vf e = vexp(load_partial(xo + at, rest) - m);
            for (int l = rest; l < kVL; ++l) e[l] = 0.0f;
            store_partial(yo + at, e, rest);
            part[j] += e;
          }
        }
      }
      float sums[16] = {};
      for (int j = 0; j < kParts; ++j) store(sums + j * kVL, part[j]);
      for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; ++l) sums[l] += sums[l + width];
      const float total = sums[0];
      const vf scale = splat(1.0f / total);
      for (k = 0; k + kVL <= len; k += kVL) store(yo + k, load(yo + k) * scale);
      for (; k < len; ++k) yo[k] *= scale[0];
      continue;
    }
    // Strided axis: vectorised across `inner` neighbouring positions.
    for (size_t i = 0; i < inner; i += kVL) {
      const int nv = static_cast<int>(std::min<size_t>(kVL, inner - i));
      auto ld = [&](const float* p) { return nv == kVL ? load(p) : load_partial(p, nv); };
      auto st = [&](float* p, vf v) { nv == kVL ? store(p, v) : store_partial(p, v, nv); };
      vf mx = ld(xo + i);
      for (size_t k = 1; k < len; ++k) mx = vmax(mx, ld(xo + k * inner + i));
      vf sum{};
      for (size_t k = 0; k < len; ++k) {
        const vf e = vexp(ld(xo + k * inner + i) - mx);
        st(yo + k * inner + i, e);
        sum += e;
      }
      const vf scale = 1.0f / sum;
      for (size_t k = 0; k < len; ++k) st(yo + k * inner + i, ld(yo + k * inner + i) * scale);
    }
  }
}

}  // namespace

extern const SimdKernels kKernels;
const SimdKernels kKernels = {KILN_SIMD_NAME, kVL,      kMR,        kNR,           gemm_tile,   depthwise,
                              pool,           activation, binary, binary_channel, global_pool,
                              winograd_f23,   winograd_f43, winograd_f63, softmax, 0};

}  // namespace kiln::cpu::KILN_SIMD_NS
