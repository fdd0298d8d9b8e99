// Winograd F(4×4, 3×3) (Lavin & Gray, "Fast algorithms for convolutional
// neural networks", 2016) for 3×3, stride 1, dilation 1, ungrouped layers.
// The output is cut into 4×4 tiles, each computed from a 6×6 input tile d:
//   Y = Aᵀ [ Σ_c (G g_kc Gᵀ) ⊙ (Bᵀ d_c B) ] A,
// with the interpolation points 0, ±1, ±2, ∞. The element-wise product summed
// over channels is 36 independent GEMMs, one per point of the 6×6 tile:
// M_i[tile][k] = Σ_c V_i[tile][c] · U_i[c][k], 36 multiplies where the direct
// convolution of 16 outputs needs 144 (2.25 times fewer).
//
// prepare(): U = G g Gᵀ of every (k, c), packed as 36 PackedB of C×K.
// run(): tasks over groups of tiles × panels of output channels. Each task
// transforms its tiles' inputs for all C channels into V [36][tiles][C] (a
// per-thread slot), runs the 36 GEMMs into M [36][tiles][K] (its panels'
// columns only) and transforms M back, adding bias and residual and applying
// the activation, writing only the valid part of edge tiles. The transforms
// are the ISA's winograd_f43 kernel, vectorised along channels.
#include <cmath>
#include <cstdlib> // TEMP

#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

constexpr int kPoints = 36;  // 6×6 tile points
// Floats of V and M per slot: bounds the tiles per task (2 MiB).
constexpr int64_t kSlotFloats = 512 * 1024;
constexpr int kMaxTilesPerTask = 64;

struct Tiling {
  int tiles_h, tiles_w;
  int64_t tiles;
  int per_task;  // tiles per task
};

Tiling tiling(const ConvShape& s, int mr) {
  Tiling t;
  t.tiles_h = (s.OH + 3) / 4;
  t.tiles_w = (s.OW + 3) / 4;
  t.tiles = int64_t{s.N} * t.tiles_h * t.tiles_w;
  // As many tiles as the slot allows (each task streams its panels of U once),
  // in whole register tiles, then evened out over the groups.
  static const int64_t slot_floats = getenv("WINO_SLOT") ? atoll(getenv("WINO_SLOT")) : kSlotFloats;
  static const int64_t max_tiles = getenv("WINO_MAXT") ? atoll(getenv("WINO_MAXT")) : kMaxTilesPerTask;
  int64_t most = slot_floats / (int64_t{kPoints} * (s.C + s.K)) / mr * mr;
  most = std::clamp<int64_t>(most, mr, max_tiles);
  const int64_t groups = (t.tiles + most - 1) / most;
  int64_t per = (t.tiles + groups - 1) / groups;
  if (groups > 1) per = std::min(most, (per + mr - 1) / mr * mr);
  t.per_task = static_cast<int>(per);
  return t;
}

// G g Gᵀ of one 3×3 kernel g, in double: the 6×6 transformed weights.
void transform_weights(const double g[3][3], double u[6][6]) {
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  double t[6][3];  // G g
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 3; ++j) t[i][j] = G[i][0] * g[0][j] + G[i][1] * g[1][j] + G[i][2] * g[2][j];
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) u[i][j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

class WinogradKernel final : public ConvKernel {
 public:
  explicit WinogradKernel(const ConvLayer& l)
      : l_(l), s_(l.shape), t_(tiling(s_, l.simd->mr)), zeros_(static_cast<size_t>(s_.C), 0.0f),
        slots_(l.threads, static_cast<size_t>(kPoints) * t_.per_task * (s_.C + s_.K)) {
    // U[i][k][c] for the 36 points i.
    std::vector<float> u(static_cast<size_t>(kPoints) * s_.K * s_.C);
    for (int k = 0; k < s_.K; ++k)
      for (int c = 0; c < s_.C; ++c) {
        double g[3][3], ut[6][6];
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw) g[kh][kw] = onnx_weight(l, k, c, kh, kw);
        transform_weights(g, ut);
        for (int i = 0; i < kPoints; ++i)
          u[(static_cast<size_t>(i) * s_.K + k) * s_.C + c] = static_cast<float>(ut[i / 6][i % 6]);
      }
    b_.reserve(kPoints);
    for (int i = 0; i < kPoints; ++i)
      b_.emplace_back(s_.C, s_.K, l.simd->nr,
                      [&](int c, int k) { return u[(static_cast<size_t>(i) * s_.K + k) * s_.C + c]; });
    // Panels per task: a K block of them stays in L2; split further when
    // there are few tile groups for the threads (the input transform is then
    // repeated per panel group, cheap beside the GEMMs).
    const int panels = b_[0].panels();
    const int64_t groups = (t_.tiles + t_.per_task - 1) / t_.per_task;
    ppt_ = panels_per_task(*l.simd, panels);
    if (l.threads > 1 && groups * ((panels + ppt_ - 1) / ppt_) < 4 * l.threads) {
      const int64_t want = std::min<int64_t>(panels, (4 * l.threads + groups - 1) / groups);
      ppt_ = static_cast<int>((panels + want - 1) / want);
    }
  }

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int C = s_.C, K = s_.K, T = t_.per_task;
    const int panels = b_[0].panels(), nr = kern.nr;
    const int64_t groups = (t_.tiles + T - 1) / T, p_tasks = (panels + ppt_ - 1) / ppt_;
    const int tiles_img = t_.tiles_h * t_.tiles_w;
    auto task = [&](size_t idx) {
      const int64_t t0 = static_cast<int64_t>(idx) / p_tasks * T;
      const int count = static_cast<int>(std::min<int64_t>(T, t_.tiles - t0));
      const int p0 = static_cast<int>(static_cast<int64_t>(idx) % p_tasks) * ppt_;
      const int p1 = std::min(panels, p0 + ppt_);
      const int col0 = p0 * nr, cols = std::min(K, p1 * nr) - col0;
      ScratchSlots::Claim slot(slots_, r.workspace);
      float* v = slot.data();                                      // [36][T][C]
      float* m = v + static_cast<size_t>(kPoints) * T * C;         // [36][T][K]
      const float* src[kPoints];
      float* dst[kPoints];
      const float* res[16];

      // Input transform.
      for (int t = 0; t < count; ++t) {
        const int64_t tile = t0 + t;
        const int n = static_cast<int>(tile / tiles_img), rest = static_cast<int>(tile % tiles_img);
        const int ih0 = rest / t_.tiles_w * 4 - s_.pt, iw0 = rest % t_.tiles_w * 4 - s_.pl;
        for (int a = 0; a < 6; ++a) {
          const int ih = ih0 + a;
          for (int b = 0; b < 6; ++b) {
            const int iw = iw0 + b;
            src[a * 6 + b] = ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W
                                 ? zeros_.data()
                                 : r.x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * C;
            dst[a * 6 + b] = v + (static_cast<size_t>(a * 6 + b) * T + t) * C;
          }
        }
        WinogradF43Args in;
        in.src = src;
        in.dst = dst;
        in.n = C;
        kern.winograd_f43(in);
      }

      // The 36 GEMMs, this task's panels only.
      for (int i = 0; i < kPoints; ++i) {
        GemmProblem p;
        p.seg_len = C;
        p.b = &b_[i];
        p.c = m + static_cast<size_t>(i) * T * K;
        p.ldc = K;
        const float* vi = v + static_cast<size_t>(i) * T * C;
        gemm_rows(kern, p, 0, count, p0, p1,
                  [&](int row, int) -> const float* { return vi + static_cast<size_t>(row) * C; });
      }

      // Output transform with bias, residual and activation.
      for (int t = 0; t < count; ++t) {
        const int64_t tile = t0 + t;
        const int n = static_cast<int>(tile / tiles_img), rest = static_cast<int>(tile % tiles_img);
        const int oh0 = rest / t_.tiles_w * 4, ow0 = rest % t_.tiles_w * 4;
        for (int i = 0; i < kPoints; ++i) src[i] = m + (static_cast<size_t>(i) * T + t) * K + col0;
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b) {
            const int oh = oh0 + a, ow = ow0 + b;
            const bool valid = oh < s_.OH && ow < s_.OW;
            const size_t at = ((static_cast<size_t>(n) * s_.OH + oh) * s_.OW + ow) * K + col0;
            dst[a * 4 + b] = valid ? r.y + at : nullptr;
            res[a * 4 + b] = valid && r.residual ? r.residual + at : nullptr;
          }
        WinogradF43Args out;
        out.output = true;
        out.src = src;
        out.dst = dst;
        out.residual = r.residual ? res : nullptr;
        out.bias = l_.bias ? l_.bias + col0 : nullptr;
        out.n = cols;
        out.act = l_.act;
        kern.winograd_f43(out);
      }
    };
    r.pool->parallel_for(static_cast<size_t>(groups * p_tasks), task);
  }

  std::string detail() const override {
    size_t u = 0;
    for (const PackedB& b : b_) u += b.bytes();
    return "workspace " + human_bytes(slots_.bytes()) + " (" + std::to_string(t_.per_task) +
           " tiles per task), transformed weights " + human_bytes(u);
  }

 private:
  ConvLayer l_;
  ConvShape s_;
  Tiling t_;
  std::vector<float> zeros_;
  std::vector<PackedB> b_;  // U of the 36 points
  ScratchSlots slots_;
  int ppt_ = 1;
};

class Winograd final : public ConvAlgorithm {
 public:
  const char* name() const override { return "winograd"; }
  bool applicable(const ConvShape& s) const override {
    return s.group == 1 && s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
  }
  double cost_ms(const ConvShape& s, const MachineModel& m) const override {
    // An assumed register tile of 8 rows (the exact one is the ISA's).
    const Tiling t = tiling(s, 8);
    const double tiles = static_cast<double>(t.tiles), C = s.C, K = s.K;
    // The GEMMs: 36 multiplies per tile, channel pair, at a lower efficiency than
    // im2win's (shorter K loops, M written and read back), lower still for few
    // channels and for partly filled register tiles.
    const double rows = std::min<double>(t.per_task, tiles), rows_used = rows / (std::ceil(rows / 8) * 8);
    const double eff = 0.6 * rows_used * C / (C + 16.0);
    const double gemm = 2.0 * kPoints * tiles * C * K / (m.gflops_per_thread * m.threads * eff * 1e6);
    // Transforms: V written and read, M written and read, the output written
    // (and the input read 36/16 times over); U streamed once per tile group.
    const double groups = std::ceil(tiles / t.per_task);
    const double bytes =
        4.0 * tiles * (kPoints * (2 * C + 2 * K) + 16 * K + kPoints * C) + 4.0 * groups * kPoints * C * K;
    return gemm + memory_ms(bytes, m);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override {
    return std::make_unique<WinogradKernel>(l);
  }
  bool fuses_residual() const override { return true; }
};

}  // namespace

const ConvAlgorithm& winograd_algorithm() {
  static const Winograd a;
  return a;
}

}  // namespace kiln::cpu
