// Winograd F(4×4, 3×3) (Lavin & Gray, "Fast algorithms for convolutional
// neural networks", 2016) for 3×3, stride 1, dilation 1, ungrouped layers.
// The output is cut into 4×4 tiles, each computed from a 6×6 input tile d:
//   Y = Aᵀ [ Σ_c (G g_kc Gᵀ) ⊙ (Bᵀ d_c B) ] A,
// with the interpolation points 0, ±1, ±2, ∞. The element-wise products summed
// over channels are 36 independent GEMMs, one per point of the 6×6 tile:
// M_i[tile][k] = Σ_c V_i[tile][c] · U_i[c][k], 36 multiplies where the direct
// convolution of 16 outputs needs 144 (2.25 times fewer).
//
// prepare(): U = G g Gᵀ of every (k, c), packed for the shared GEMM as one
// PackedB (C × the group's columns) per point and column group.
// run(): a task takes a group of tiles and a range of column groups. It
// transforms the tiles' inputs for all C channels into V [36][tiles][C] (a
// per-thread slot); then per column group it runs the 36 GEMMs into
// M [36][tiles][columns] and transforms M back, adding bias and residual and
// applying the activation, writing only the valid part of edge tiles. The
// transforms are the ISA's winograd_f43 kernel, vectorised along channels.
// Results do not depend on the split (each output is the same sums in the
// same order), so they are the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

constexpr int kPoints = 36;  // 6×6 tile points
// Floats of V and M per slot: bounds the tiles per task (4 MiB).
constexpr int64_t kSlotFloats = 1024 * 1024;
constexpr int kMaxTilesPerTask = 64;

// How a layer is split: tiles in groups (one input transform each, and one
// pass over U), output channels in column groups of a few B panels (one set
// of 36 GEMMs and one output transform each, M holding one column group).
// A task is one tile group × a range of column groups: all of them, unless
// the threads need more tasks than there are tile groups.
struct Plan {
  int tiles_h = 1, tiles_w = 1;
  int64_t tiles = 1;
  int per_group = 1;  // tiles per group
  int64_t groups = 1;
  int group_cols = 1;  // output channels per column group (whole panels)
  int col_groups = 1;
  int col_groups_per_task = 1;
  int64_t splits = 1;  // tasks per tile group
  int64_t tasks() const { return groups * splits; }
};

Plan make_plan(const ConvGeometry& s, int mr, int group_cols, int threads) {
  Plan p;
  p.tiles_h = (s.OH + 3) / 4;
  p.tiles_w = (s.OW + 3) / 4;
  p.tiles = int64_t{s.N} * p.tiles_h * p.tiles_w;
  p.group_cols = std::min(s.K, group_cols);
  p.col_groups = (s.K + p.group_cols - 1) / p.group_cols;
  // As many tiles per group as the slot allows (each group streams U once),
  // in whole register tiles, then evened out over the groups.
  int64_t most = kSlotFloats / (int64_t{kPoints} * (s.C + p.group_cols)) / mr * mr;
  most = std::clamp<int64_t>(most, mr, kMaxTilesPerTask);
  auto split_tiles = [&](int64_t groups) {
    p.groups = groups;
    p.per_group = static_cast<int>((p.tiles + groups - 1) / groups);
    if (groups > 1) p.per_group = static_cast<int>(std::min<int64_t>(most, (p.per_group + mr - 1) / mr * mr));
    p.groups = (p.tiles + p.per_group - 1) / p.per_group;
  };
  split_tiles((p.tiles + most - 1) / most);
  if (threads > 1) {
    // Enough tasks for the threads: first split the column groups (which
    // repeats only the cheap input transform), then use smaller tile groups.
    const int64_t want = 4 * int64_t{threads};
    if (p.groups < want) p.splits = std::min<int64_t>(p.col_groups, (want + p.groups - 1) / p.groups);
    if (p.groups * p.splits < 2 * threads && p.tiles > mr) {
      const int64_t groups = (2 * threads + p.splits - 1) / p.splits;
      split_tiles(std::min<int64_t>(groups, (p.tiles + mr - 1) / mr));
    }
  }
  p.col_groups_per_task = static_cast<int>((p.col_groups + p.splits - 1) / p.splits);
  p.splits = (p.col_groups + p.col_groups_per_task - 1) / p.col_groups_per_task;
  return p;
}

// Floats between the 36 points' matrices in a slot: an odd number of cache
// lines, so that the 36 rows a tile transform reads or writes fall in
// different L1 sets (a multiple of 4 KiB would put them all in one).
size_t point_stride(size_t floats) {
  size_t lines = (floats + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
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
      : l_(l),
        s_(l.shape),
        p_(make_plan(s_, l.simd->mr,
                     panels_in_l2(*l.simd, (s_.K + l.simd->nr - 1) / l.simd->nr) * l.simd->nr, l.threads)),
        zeros_(static_cast<size_t>(s_.C), 0.0f),
        v_stride_(point_stride(static_cast<size_t>(p_.per_group) * s_.C)),
        m_stride_(point_stride(static_cast<size_t>(p_.per_group) * p_.group_cols)),
        slots_(l.threads, kPoints * (v_stride_ + m_stride_)) {
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
    // Packed per column group, then per point.
    b_.reserve(static_cast<size_t>(p_.col_groups) * kPoints);
    for (int cg = 0; cg < p_.col_groups; ++cg) {
      const int col0 = cg * p_.group_cols, cols = std::min(p_.group_cols, s_.K - col0);
      for (int i = 0; i < kPoints; ++i)
        b_.emplace_back(s_.C, cols, l.simd->nr,
                        [&](int c, int k) { return u[(static_cast<size_t>(i) * s_.K + col0 + k) * s_.C + c]; });
    }
  }

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int C = s_.C, T = p_.per_group, ldm = p_.group_cols;
    const int tiles_img = p_.tiles_h * p_.tiles_w;
    auto task = [&](size_t idx) {
      const int64_t t0 = static_cast<int64_t>(idx) / p_.splits * T;
      const int count = static_cast<int>(std::min<int64_t>(T, p_.tiles - t0));
      const int cg0 = static_cast<int>(static_cast<int64_t>(idx) % p_.splits) * p_.col_groups_per_task;
      const int cg1 = std::min(p_.col_groups, cg0 + p_.col_groups_per_task);
      ScratchSlots::Claim slot(slots_, r.workspace);
      float* v = slot.data();              // [36][T][C]
      float* m = v + kPoints * v_stride_;  // [36][T][group_cols]
      const float* src[kPoints];
      float* dst[kPoints];
      const float* res[16];

      // Input transform.
      for (int t = 0; t < count; ++t) {
        const int64_t tile = t0 + t;
        const int n = static_cast<int>(tile / tiles_img), rest = static_cast<int>(tile % tiles_img);
        const int ih0 = rest / p_.tiles_w * 4 - s_.pt, iw0 = rest % p_.tiles_w * 4 - s_.pl;
        for (int a = 0; a < 6; ++a) {
          const int ih = ih0 + a;
          for (int b = 0; b < 6; ++b) {
            const int iw = iw0 + b;
            src[a * 6 + b] = ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W
                                 ? zeros_.data()
                                 : r.x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * C;
            dst[a * 6 + b] = v + (a * 6 + b) * v_stride_ + static_cast<size_t>(t) * C;
          }
        }
        WinogradF43Args in;
        in.src = src;
        in.dst = dst;
        in.n = C;
        kern.winograd_f43(in);
      }

      for (int cg = cg0; cg < cg1; ++cg) {
        // The 36 GEMMs for this column group.
        for (int i = 0; i < kPoints; ++i) {
          const PackedB& b = b_[static_cast<size_t>(cg) * kPoints + i];
          GemmProblem p;
          p.seg_len = C;
          p.b = &b;
          p.c = m + i * m_stride_;
          p.ldc = ldm;
          const float* vi = v + i * v_stride_;
          gemm_rows(kern, p, 0, count, 0, b.panels(),
                    [&](int row, int) -> const float* { return vi + static_cast<size_t>(row) * C; });
        }
        // Output transform with bias, residual and activation.
        const int col0 = cg * p_.group_cols, cols = std::min(p_.group_cols, s_.K - col0);
        for (int t = 0; t < count; ++t) {
          const int64_t tile = t0 + t;
          const int n = static_cast<int>(tile / tiles_img), rest = static_cast<int>(tile % tiles_img);
          const int oh0 = rest / p_.tiles_w * 4, ow0 = rest % p_.tiles_w * 4;
          for (int i = 0; i < kPoints; ++i) src[i] = m + i * m_stride_ + static_cast<size_t>(t) * ldm;
          for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) {
              const int oh = oh0 + a, ow = ow0 + b;
              const bool valid = oh < s_.OH && ow < s_.OW;
              const size_t at = ((static_cast<size_t>(n) * s_.OH + oh) * s_.OW + ow) * s_.K + col0;
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
      }
    };
    slots_.reset(r.workspace);
    r.pool->parallel_for(static_cast<size_t>(p_.tasks()), task);
  }

  std::string detail() const override {
    size_t u = 0;
    for (const PackedB& b : b_) u += b.bytes();
    return "workspace " + human_bytes(slots_.bytes()) + " (" + std::to_string(p_.per_group) +
           " tiles per task), transformed weights " + human_bytes(u);
  }

  size_t weight_bytes() const override { return bytes_of(b_); }

 private:
  ConvLayer l_;
  ConvGeometry s_;
  Plan p_;
  std::vector<float> zeros_;
  size_t v_stride_, m_stride_;  // floats from one point's V (M) to the next
  std::vector<PackedB> b_;      // U: [column group][point]
  ScratchSlots slots_;
};

class Winograd final : public ConvAlgorithm {
 public:
  const char* name() const override { return "winograd"; }
  bool applicable(const ConvGeometry& s) const override {
    return s.group == 1 && s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
  }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    // AVX-512's register tile (8 rows) and column groups (256) are assumed.
    const Plan p = make_plan(s, 8, 256, m.threads);
    const double tiles = static_cast<double>(p.tiles), C = s.C, K = s.K;
    // The GEMMs: 36 multiplies per tile and channel pair where the direct
    // convolution needs 144, at im2win's efficiency for many channels, lower
    // for few (short K loops).
    const double gemm = 2.0 * kPoints * tiles * C * K / (m.gflops_per_thread * m.threads * 0.7 * C / (C + 8) * 1e6);
    // The transforms, per tile: 36 input pixels read and V written, V read by
    // the GEMMs, M written and read, 16 outputs written and residuals read. They
    // work on whole vectors of 16 channels, and a partial one costs about two.
    auto vectors = [](double n) { return 16 * (std::ceil(n / 16) + (std::fmod(n, 16) != 0 ? 1 : 0)); };
    const double cv = vectors(C), kv = vectors(K);
    const double transforms = 4.0 * tiles * (kPoints * (3 * cv + 2 * kv) + 2 * 16 * kv);
    // U (36·C·K floats, four times the weights) is read once per tile group.
    // A small U stays in the caches from one inference to the next; a large one
    // (the layer's share of a large network's weights) comes from memory at a
    // fraction of the cache bandwidth the first time (only its excess over the
    // plain weights counts: the other estimates leave weights out), and again
    // for later tile groups if it does not fit in the last-level cache.
    const double u = 4.0 * kPoints * C * K, w = 4.0 * 9 * C * K, mib = 1 << 20;
    const double first = (u - w) * (u > 4 * mib ? 2.5 : 0.5), again = u * (u > 16 * mib ? 2.5 : 0.5);
    const double u_traffic = first + static_cast<double>(p.groups - 1) * again;
    return gemm + memory_ms(transforms + u_traffic, m);
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
