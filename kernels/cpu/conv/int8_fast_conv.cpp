// Fast int8 3×3 stride-1 convolutions: Winograd F(2×2,3×3) and SFC-6
// (He, Zhao, Gao, Du, Du, "SFC: Achieve Accurate Fast Convolution under
// Low-precision Arithmetic", ICML 2024), both exact, so their results are the
// bits of the direct int8 path (engine/core/quantization.hpp).
//
// Both are bilinear algorithms with small integer matrices, applied along
// both axes of a tile (FastTransform1D; scripts/derive_int8_fast_conv.py
// derives and checks them):
//   scale²·Y = AT·((BT·X·BTᵀ) ⊙ (G·W·Gᵀ))·ATᵀ,  X = x − zx, W = w − zw.
// Subtracting the zero points first makes padding (which reads as zx) a 0
// and keeps the algorithm free of zero-point terms.
//
// * Winograd F(2,3): 4×4 inputs, 2×2 outputs, 16 products (9·4 direct), G
//   doubled so that it is integral (scale 2).
// * SFC-6: 8×8 inputs, 6×6 outputs. A 6-point DFT of x1..x6 in the ring
//   Z[ω] (ω = e^{−iπ/3}, ω² = ω − 1): every DFT coefficient is a + bω with a,
//   b sums and differences of inputs, no multiplication. The products per
//   axis are X0·H0 and X3·H3 (integers), the two complex frequencies with
//   three products each ((a + bω)(c + dω) = (ac − bd) + ((a + b)(c + d) − ac)ω)
//   and two correction terms, w0·(x0 − x6) and w2·(x7 − x1), that turn the two
//   cyclic outputs that wrap around into the outputs z0 and z5 of the 8-input
//   window: 10 products for 6 outputs per axis (scale 6, from the inverse DFT).
//   We apply it along both axes as a tensor product, 100 products for 36
//   outputs (3.24× fewer than direct). The paper's 2-D form merges conjugate
//   frequency pairs of the two axes for 88 products (3.68×); we did not
//   implement that merge.
//
// Exactness (|x − zx|, |w − zw| <= 255 for uint8 activations and uint8 or
// int8 weights; bounds from the largest row L1 norm of each matrix):
//   U = BT X BTᵀ:  Winograd |U| <= 2²·255 = 1020,  SFC |U| <= 6²·255 = 9180   (int16)
//   V = G W Gᵀ:    both |V| <= 3²·255 = 2295                                   (int16)
//   one vpmaddwd pair: 2·9180·2295 < 2^26 (no int16 × int16 pair overflow)
// The channel sums of U⊙V and the output transform run in int32 with
// wraparound (SIMD adds, uint32 in scalar code). Wraparound is arithmetic
// modulo 2^32, so the result is scale²·z mod 2^32 with z the exact partial
// convolution; it is scale²·z itself whenever |scale²·z| < 2^31. The channels
// are therefore split into chunks with scale²·max|x − zx|·Σ|w − zw| < 2^31 over
// each chunk (for the worst output channel), each chunk's z divided exactly
// (an arithmetic shift and the modular inverse of the odd part) and the
// chunks added. The bound uses the layer's own weights (per input channel, its
// worst output channel's Σ|w − zw|): ResNet-18's 512-channel layers take two
// chunks for SFC-6, its other layers one.
//
// Not applicable (im2col + GEMM runs them): other kernel sizes, strides,
// dilations and groups; int8 activations take the reference kernel already.
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "engine/core/quantized_ops.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/conv_common.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"
#include "kernels/cpu/simd/fast_conv_transforms.hpp"

namespace kiln::cpu {

namespace {

constexpr int kChannelAlign = 32;  // the widest level's int16 lanes: whole vectors in the input transform
constexpr int kPanel = 64;         // output channels per panel of a task

int round_up(int a, int b) { return (a + b - 1) / b * b; }

int32_t weight_value(const TensorInfo& w, size_t i) {
  const std::byte b = w.constant->bytes()[i];
  return w.dtype == DataType::Int8 ? static_cast<int8_t>(b) : static_cast<uint8_t>(b);
}

class QFastConv final : public QConvKernel {
 public:
  QFastConv(const QConvLayer& l, const FastTransform1D& t, const char* name)
      : l_(l), s_(l.shape), t_(t), transform_(&t == &kSfc6 ? 1 : 0), name_(name) {
    q_ = quantized_linear(*l.x, *l.w, l.bias, *l.y, s_.K, l.act);
    const int T = t_.terms, C = s_.C, K = s_.K;
    freqs_ = T * T;
    cp_ = round_up(C, kChannelAlign);
    // V_f[k][c] = (G (w − zw) Gᵀ)[f], exact in int16 (|V| <= 2295).
    std::vector<int16_t> v(static_cast<size_t>(freqs_) * K * cp_, 0);
    std::vector<int64_t> channel_l1(static_cast<size_t>(cp_), 0);  // max over k of Σ_taps |w − zw|
    for (int k = 0; k < K; ++k)
      for (int c = 0; c < C; ++c) {
        int32_t w[3][3];
        int64_t l1 = 0;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            w[i][j] = weight_value(*l.w, ((static_cast<size_t>(k) * C + c) * 3 + i) * 3 + j) -
                      q_.w_zero_point[static_cast<size_t>(k)];
            l1 += std::abs(w[i][j]);
          }
        channel_l1[static_cast<size_t>(c)] = std::max(channel_l1[static_cast<size_t>(c)], l1);
        int32_t gw[FastTransform1D::kMaxTerms][3];
        for (int a = 0; a < T; ++a)
          for (int j = 0; j < 3; ++j) gw[a][j] = t_.g[a][0] * w[0][j] + t_.g[a][1] * w[1][j] + t_.g[a][2] * w[2][j];
        for (int a = 0; a < T; ++a)
          for (int b = 0; b < T; ++b)
            v[(static_cast<size_t>(a * T + b) * K + k) * cp_ + c] =
                static_cast<int16_t>(t_.g[b][0] * gw[a][0] + t_.g[b][1] * gw[a][1] + t_.g[b][2] * gw[a][2]);
      }
    // Channel chunks (pairs stay together: the GEMM takes K in pairs) with
    // scale²·max|x − zx|·Σ|w − zw| below 2^31 for every output channel.
    const int64_t xmax = std::max(q_.x_zero_point, 255 - q_.x_zero_point);
    const int64_t limit = (int64_t{1} << 31) - 1;
    const int64_t s2 = int64_t{t_.scale} * t_.scale;
    int64_t sum = 0;
    chunks_.push_back(0);
    for (int c = 0; c < cp_; c += 2) {
      const int64_t pair = s2 * xmax * (channel_l1[static_cast<size_t>(c)] + channel_l1[static_cast<size_t>(c) + 1]);
      if (sum + pair > limit && c > chunks_.back()) {
        chunks_.push_back(c);
        sum = 0;
      }
      sum += pair;
    }
    chunks_.push_back(cp_);
    // One packed matrix per frequency, all in one buffer.
    const Int8Kernels& kern = *l.kernels;
    freq_bytes_ = kern.packed_s16_size(K, cp_);
    packed_ = allocate_aligned(freq_bytes_ * static_cast<size_t>(freqs_));
    for (int f = 0; f < freqs_; ++f)
      kern.pack_s16(v.data() + static_cast<size_t>(f) * K * cp_, K, cp_, packed_.get() + freq_bytes_ * f);

    const FastConvPlan plan = fast_conv_plan(s_, t_, l.threads);
    const int m = t_.n_out;
    tiles_h_ = plan.tiles_h, tiles_w_ = plan.tiles_w, tiles_ = plan.tiles;
    panels_ = plan.panels, tile_block_ = plan.tile_block, blocks_ = plan.blocks, panel_groups_ = plan.panel_groups;
    const size_t u = static_cast<size_t>(freqs_) * tile_block_ * cp_ * sizeof(int16_t);
    const size_t p = static_cast<size_t>(freqs_) * tile_block_ * kPanel * sizeof(int32_t);
    const size_t part = chunks_.size() > 2 ? static_cast<size_t>(tile_block_) * m * m * kPanel * sizeof(int32_t) : 0;
    slot_bytes_ = (u + 63) / 64 * 64 + (p + 63) / 64 * 64 + part;
    slots_ = ScratchSlots(l.threads, (slot_bytes_ + sizeof(float) - 1) / sizeof(float));
  }

  size_t workspace_bytes() const override { return slots_.bytes(); }
  size_t weight_bytes() const override { return freq_bytes_ * static_cast<size_t>(freqs_) + q_.bias.size() * 4; }
  std::string detail() const override {
    std::string d = fmt::format("int8 {} ({}x{} outputs per tile, {} products)", name_, t_.n_out, t_.n_out, freqs_);
    if (chunks_.size() > 2) d += fmt::format(", {} channel chunks", chunks_.size() - 1);
    return d;
  }

  void run(const uint8_t* x, uint8_t* y, void* workspace, ThreadPool& pool) const override {
    auto* ws = static_cast<float*>(workspace);
    slots_.reset(ws);
    const int per_group = (panels_ + panel_groups_ - 1) / panel_groups_;
    auto task = [&](size_t i) {
      const int64_t block = static_cast<int64_t>(i) / panel_groups_;
      const int pg = static_cast<int>(static_cast<int64_t>(i) % panel_groups_);
      const int p0 = pg * per_group, p1 = std::min(panels_, p0 + per_group);
      if (p0 >= p1) return;
      ScratchSlots::Claim claim(slots_, ws);
      run_block(x, y, block, p0, p1, reinterpret_cast<uint8_t*>(claim.data()));
    };
    pool.parallel_for(static_cast<size_t>(blocks_ * panel_groups_), task);
  }

 private:
  void run_block(const uint8_t* x, uint8_t* y, int64_t block, int p0, int p1, uint8_t* scratch) const {
    const Int8Kernels& kern = *l_.kernels;
    const int m = t_.n_out, tb = tile_block_;
    const int64_t t0 = block * tb;
    const int nt = static_cast<int>(std::min<int64_t>(tb, tiles_ - t0));
    auto* u = reinterpret_cast<int16_t*>(scratch);
    auto* prod = reinterpret_cast<int32_t*>(
        scratch + (static_cast<size_t>(freqs_) * tb * cp_ * sizeof(int16_t) + 63) / 64 * 64);
    auto* partial = prod + static_cast<size_t>(freqs_) * tb * kPanel;
    const size_t u_stride = static_cast<size_t>(tb) * cp_;
    const size_t p_stride = static_cast<size_t>(tb) * kPanel;
    struct Tile {
      int n, oh, ow;
    };
    Tile tiles[32];
    for (int j = 0; j < nt; ++j) {
      const int64_t t = t0 + j;
      const int per_image = tiles_h_ * tiles_w_;
      tiles[j] = {static_cast<int>(t / per_image), static_cast<int>(t % per_image / tiles_w_) * m,
                  static_cast<int>(t % per_image % tiles_w_) * m};
      QFastInArgs a;
      a.x = x + static_cast<size_t>(tiles[j].n) * s_.H * s_.W * s_.C;
      a.H = s_.H, a.W = s_.W, a.C = s_.C, a.Cp = cp_;
      a.ih0 = tiles[j].oh - s_.pt;
      a.iw0 = tiles[j].ow - s_.pl;
      a.x_zero_point = q_.x_zero_point;
      a.transform = transform_;
      a.u = u + static_cast<size_t>(j) * cp_;
      a.u_stride = u_stride;
      kern.fast_input(a);
    }
    const int chunks = static_cast<int>(chunks_.size()) - 1;
    for (int p = p0; p < p1; ++p) {
      const int k0 = p * kPanel, kn = std::min(kPanel, s_.K - k0);
      if (chunks > 1) std::fill(partial, partial + static_cast<size_t>(nt) * m * m * kPanel, 0);
      for (int ch = 0; ch < chunks; ++ch) {
        const int c0 = chunks_[static_cast<size_t>(ch)], c1 = chunks_[static_cast<size_t>(ch) + 1];
        for (int f = 0; f < freqs_; ++f) {
          QGemmS16Args g;
          g.a = u + static_cast<size_t>(f) * u_stride + c0;
          g.lda = static_cast<size_t>(cp_);
          g.M = nt;
          g.N = kn;
          g.K = c1 - c0;
          g.b = packed_.get() + freq_bytes_ * f + static_cast<size_t>(k0) * cp_ * sizeof(int16_t);
          g.k_total = cp_;
          g.k_begin = c0;
          g.c = prod + static_cast<size_t>(f) * p_stride;
          g.ldc = kPanel;
          kern.gemm_s16(g);
        }
        const bool last = ch == chunks - 1;
        for (int j = 0; j < nt; ++j) {
          QFastOutArgs o;
          o.p = prod + static_cast<size_t>(j) * kPanel;
          o.p_stride = p_stride;
          o.N = kn;
          o.transform = transform_;
          o.partial = chunks > 1 ? partial + static_cast<size_t>(j) * m * m * kPanel : nullptr;
          o.accumulate = !last;
          o.bias = q_.bias.data() + k0;
          o.rq.multiplier = q_.multiplier.data() + k0;
          o.rq.per_channel = true;
          o.rq.zero_point = q_.y_zero_point;
          o.rq.lo = q_.clamp.lo;
          o.rq.hi = q_.clamp.hi;
          const Tile& tl = tiles[j];
          o.y = y + ((static_cast<size_t>(tl.n) * s_.OH + tl.oh) * s_.OW + tl.ow) * s_.K + k0;
          o.y_row = static_cast<size_t>(s_.OW) * s_.K;
          o.y_pixel = static_cast<size_t>(s_.K);
          o.rows = std::min(m, s_.OH - tl.oh);
          o.cols = std::min(m, s_.OW - tl.ow);
          kern.fast_output(o);
        }
      }
    }
  }

  QConvLayer l_;
  ConvGeometry s_;
  const FastTransform1D& t_;  // kWinogradF23 or kSfc6
  int transform_;             // its index in kFastTransforms
  const char* name_;
  QuantizedLinear q_;
  int freqs_ = 0, cp_ = 0;
  std::vector<int> chunks_;  // channel boundaries, first 0, last cp_
  size_t freq_bytes_ = 0;
  AlignedBytes packed_;
  int tiles_h_ = 0, tiles_w_ = 0;
  int64_t tiles_ = 0, blocks_ = 0;
  int panels_ = 0, panel_groups_ = 1, tile_block_ = 1;
  size_t slot_bytes_ = 0;
  ScratchSlots slots_{1, 0};
};

}  // namespace

const FastTransform1D& winograd_f23_transform() { return kWinogradF23; }
const FastTransform1D& sfc6_transform() { return kSfc6; }

FastConvPlan fast_conv_plan(const ConvGeometry& s, const FastTransform1D& t, int threads) {
  FastConvPlan p;
  const int m = t.n_out, freqs = t.terms * t.terms;
  const int64_t cp = round_up(s.C, kChannelAlign);
  p.tiles_h = (s.OH + m - 1) / m;
  p.tiles_w = (s.OW + m - 1) / m;
  p.tiles = int64_t{s.N} * p.tiles_h * p.tiles_w;
  p.panels = (s.K + kPanel - 1) / kPanel;
  // Tiles per task: the transformed input of a block within ~256 KiB and its
  // products within ~512 KiB, so that they stay in L2 beside the transformed
  // weights (SFC-6 at 56×56 ran 10% slower with 1 MiB each); but at least 16
  // tiles (or all of them), as each block streams all of the transformed
  // weights, 22× the int8 ones for SFC-6 (52 MiB at C = K = 512: 7×7 ran in
  // 3.6 ms as two blocks, 2.2 ms as one). Then smaller blocks until the
  // threads have two tasks each where the layer has that many tiles.
  const int by_u = static_cast<int>((1 << 18) / (freqs * cp * 2));
  const int by_p = (1 << 19) / (freqs * kPanel * 4);
  p.tile_block = std::clamp(std::min(by_u, by_p), static_cast<int>(std::min<int64_t>(p.tiles, 16)), 32);
  if (p.tile_block > 8) p.tile_block &= ~7;  // whole 8-row tiles of the int16 GEMM
  const int64_t want = threads > 1 ? 2 * int64_t{threads} : 1;  // one thread: the input transform once per tile
  while (p.tile_block > 1 && (p.tiles + p.tile_block - 1) / p.tile_block * p.panels < want)
    p.tile_block = (p.tile_block + 1) / 2;
  p.blocks = (p.tiles + p.tile_block - 1) / p.tile_block;
  // Panels are spread over tasks only where the tile blocks alone leave a thread idle.
  p.panel_groups = static_cast<int>(std::clamp<int64_t>((want + p.blocks - 1) / p.blocks, 1, p.panels));
  p.weight_bytes = static_cast<double>(freqs) * s.K * cp * 2;
  return p;
}

bool fast_conv_applicable(const ConvGeometry& s) {
  return s.rank == 2 && s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.group == 1;
}

std::unique_ptr<QConvKernel> prepare_qfast(const QConvLayer& l, const FastTransform1D& t, const char* name) {
  return std::make_unique<QFastConv>(l, t, name);
}

}  // namespace kiln::cpu
