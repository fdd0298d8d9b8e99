// Winograd F(m×m, 3×3) (Lavin & Gray, "Fast algorithms for convolutional
// neural networks", 2016) for 3×3, stride 1, dilation 1, ungrouped layers, in
// three sizes: F(2,3), F(4,3) and F(6,3). The output is cut into m×m tiles,
// each computed from a t×t input tile d (t = m + 2):
//   Y = Aᵀ [ Σ_c (G g_kc Gᵀ) ⊙ (Bᵀ d_c B) ] A.
// The element-wise products summed over channels are t² independent GEMMs,
// one per point of the tile: M_i[tile][k] = Σ_c V_i[tile][c] · U_i[c][k],
// t² multiplies where the direct convolution of m² outputs needs 9m² (2.25,
// 4 and 5.06 times fewer). Larger tiles save more multiplies but waste more
// of an output that is not a multiple of m, hold t²/9 times the weights
// (read once per run: ResNet-50's 14×14 layers held 9 MiB each at F(4,3)),
// and lose accuracy; the cost estimates weigh this per layer.
//
// prepare(): U = G g Gᵀ of every (k, c), packed for the shared GEMM as one
// PackedB (C × the group's columns) per point and column group.
// run(): a task takes a group of tiles and a range of column groups. It
// transforms the tiles' inputs for all C channels into V [t²][tiles][C] (a
// per-thread slot); then per column group it runs the t² GEMMs into
// M [t²][tiles][columns] and transforms M back, adding bias and residual and
// applying the activation, writing only the valid part of edge tiles. The
// transforms are the ISA's winograd_f*3 kernels, vectorised along channels.
// Results do not depend on the split (each output is the same sums in the
// same order), so they are the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

constexpr int kMaxPoints = 64;  // F(6,3): 8×8 tile points
constexpr int kMaxOutputs = 36;

using TransformFn = void (*)(const WinogradArgs&);

// One tile size: m outputs per side from t = m + 2 inputs, G (t×3) for the
// weights, the ISA's transform.
struct Variant {
  const char* name;
  int m;
  const double (*g)[3];
  TransformFn SimdKernels::*transform;
  // Cost of the transforms per point relative to F(4,3)'s, as measured in
  // whole layers: F(6,3)'s factored transforms are as cheap per point, but its
  // 64 smaller GEMMs per tile group and 7× weights made ResNet-18's 56×56 and
  // 28×28 layers 8-11% slower than F(4,3) at AVX-512 and AVX2 alike, which a
  // factor of 2 on its transforms reproduces.
  double transform_cost;
  int t() const { return m + 2; }
  int points() const { return t() * t(); }
};

constexpr double kG23[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
constexpr double kG43[6][3] = {{1.0 / 4, 0, 0},
                               {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                               {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                               {1.0 / 24, 1.0 / 12, 1.0 / 6},
                               {1.0 / 24, -1.0 / 12, 1.0 / 6},
                               {0, 0, 1}};
constexpr double kG63[8][3] = {{1, 0, 0},
                               {-2.0 / 9, -2.0 / 9, -2.0 / 9},
                               {-2.0 / 9, 2.0 / 9, -2.0 / 9},
                               {1.0 / 90, 1.0 / 45, 2.0 / 45},
                               {1.0 / 90, -1.0 / 45, 2.0 / 45},
                               {32.0 / 45, 16.0 / 45, 8.0 / 45},
                               {32.0 / 45, -16.0 / 45, 8.0 / 45},
                               {0, 0, 1}};
constexpr Variant kF23{"winograd_f23", 2, kG23, &SimdKernels::winograd_f23, 1.0};
constexpr Variant kF43{"winograd", 4, kG43, &SimdKernels::winograd_f43, 1.0};
constexpr Variant kF63{"winograd_f63", 6, kG63, &SimdKernels::winograd_f63, 2.0};
// Floats of V and M per slot: bounds the tiles per task (4 MiB).
constexpr int64_t kSlotFloats = 1024 * 1024;
constexpr int kMaxTilesPerTask = 64;

// How a layer is split: tiles in groups (one input transform each, and one
// pass over U), output channels in column groups of a few B panels (one set
// of t² GEMMs and one output transform each, M holding one column group).
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

Plan make_plan(const Variant& v, const ConvGeometry& s, int mr, int group_cols, int threads) {
  Plan p;
  const int kPoints = v.points();
  p.tiles_h = (s.OH + v.m - 1) / v.m;
  p.tiles_w = (s.OW + v.m - 1) / v.m;
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

// Floats between the points' matrices in a slot: an odd number of cache
// lines, so that the rows a tile transform reads or writes fall in
// different L1 sets (a multiple of 4 KiB would put them all in one).
size_t point_stride(size_t floats) {
  size_t lines = (floats + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
}

// U = G g Gᵀ for every channel c of output channel k, in double, into
// u[i][k][c] for the t² points i. The loops run along c (contiguous), so they
// vectorise: one kernel at a time took most of a ResNet-18 session's creation.
void transform_weights(const Variant& v, const ConvLayer& l, int k, std::vector<double>& g9, std::vector<double>& gg,
                       float* u) {
  const ConvGeometry& s = l.shape;
  const int t = v.t(), C = s.C;
  const size_t plane = static_cast<size_t>(s.K) * C;  // floats from one point of u to the next
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < 9; ++r) g9[static_cast<size_t>(r) * C + c] = onnx_weight(l, k, c, r / 3, r % 3);
  // G g: gg[i][j] = Σ_r G[i][r] g[r][j].
  for (int i = 0; i < t; ++i)
    for (int j = 0; j < 3; ++j) {
      const double a0 = v.g[i][0], a1 = v.g[i][1], a2 = v.g[i][2];
      const double *x0 = &g9[static_cast<size_t>(j) * C], *x1 = &g9[static_cast<size_t>(3 + j) * C],
                   *x2 = &g9[static_cast<size_t>(6 + j) * C];
      double* d = &gg[static_cast<size_t>(i * 3 + j) * C];
      for (int c = 0; c < C; ++c) d[c] = a0 * x0[c] + a1 * x1[c] + a2 * x2[c];
    }
  // (G g) Gᵀ.
  for (int i = 0; i < t; ++i)
    for (int j = 0; j < t; ++j) {
      const double b0 = v.g[j][0], b1 = v.g[j][1], b2 = v.g[j][2];
      const double *y0 = &gg[static_cast<size_t>(i * 3) * C], *y1 = y0 + C, *y2 = y1 + C;
      float* out = u + static_cast<size_t>(i * t + j) * plane + static_cast<size_t>(k) * C;
      for (int c = 0; c < C; ++c) out[c] = static_cast<float>(y0[c] * b0 + y1[c] * b1 + y2[c] * b2);
    }
}

class WinogradKernel final : public ConvKernel {
 public:
  WinogradKernel(const Variant& v, const ConvLayer& l)
      : v_(v),
        l_(l),
        s_(l.shape),
        p_(make_plan(v, s_, l.simd->mr,
                     panels_in_l2(*l.simd, (s_.K + l.simd->nr - 1) / l.simd->nr) * l.simd->nr, l.threads)),
        zeros_(static_cast<size_t>(s_.C), 0.0f),
        v_stride_(point_stride(static_cast<size_t>(p_.per_group) * s_.C)),
        m_stride_(point_stride(static_cast<size_t>(p_.per_group) * p_.group_cols)),
        slots_(l.threads, v.points() * (v_stride_ + m_stride_)) {
    const int kPoints = v.points();
    // U[i][k][c] for the t² points i.
    std::vector<float, LargeAllocator<float>> u(static_cast<size_t>(kPoints) * s_.K * s_.C);
    // In blocks of output channels, each with its own scratch, over the
    // preparation threads when there are some.
    constexpr int kBlock = 16;
    auto transform_block = [&](size_t b) {
      std::vector<double> g9(static_cast<size_t>(9) * s_.C), gg(static_cast<size_t>(3) * v.t() * s_.C);
      for (int k = static_cast<int>(b) * kBlock; k < std::min(s_.K, static_cast<int>(b + 1) * kBlock); ++k)
        transform_weights(v, l, k, g9, gg, u.data());
    };
    const size_t blocks = static_cast<size_t>((s_.K + kBlock - 1) / kBlock);
    if (l.prepare_pool)
      l.prepare_pool->parallel_for(blocks, transform_block);
    else
      for (size_t b = 0; b < blocks; ++b) transform_block(b);
    // Packed per column group, then per point.
    b_.reserve(static_cast<size_t>(p_.col_groups) * kPoints);
    for (int cg = 0; cg < p_.col_groups; ++cg) {
      const int col0 = cg * p_.group_cols, cols = std::min(p_.group_cols, s_.K - col0);
      for (int i = 0; i < kPoints; ++i)
        b_.push_back(PackedB::strided(s_.C, cols, l.simd->nr, u.data() + (static_cast<size_t>(i) * s_.K + col0) * s_.C,
                                      s_.C, [](int c) { return c; }, l.prepare_pool));
    }
  }

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int C = s_.C, T = p_.per_group, ldm = p_.group_cols;
    const int tiles_img = p_.tiles_h * p_.tiles_w;
    const int kPoints = v_.points(), t_side = v_.t(), m_side = v_.m;
    const TransformFn transform = kern.*(v_.transform);
    auto task = [&](size_t idx) {
      const int64_t t0 = static_cast<int64_t>(idx) / p_.splits * T;
      const int count = static_cast<int>(std::min<int64_t>(T, p_.tiles - t0));
      const int cg0 = static_cast<int>(static_cast<int64_t>(idx) % p_.splits) * p_.col_groups_per_task;
      const int cg1 = std::min(p_.col_groups, cg0 + p_.col_groups_per_task);
      ScratchSlots::Claim slot(slots_, r.workspace);
      float* v = slot.data();              // [t²][T][C]
      float* m = v + kPoints * v_stride_;  // [t²][T][group_cols]
      const float* src[kMaxPoints];
      float* dst[kMaxPoints];
      const float* res[kMaxOutputs];

      // Input transform.
      for (int t = 0; t < count; ++t) {
        const int64_t tile = t0 + t;
        const int n = static_cast<int>(tile / tiles_img), rest = static_cast<int>(tile % tiles_img);
        const int ih0 = rest / p_.tiles_w * m_side - s_.pt, iw0 = rest % p_.tiles_w * m_side - s_.pl;
        for (int a = 0; a < t_side; ++a) {
          const int ih = ih0 + a;
          for (int b = 0; b < t_side; ++b) {
            const int iw = iw0 + b;
            src[a * t_side + b] = ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W
                                      ? zeros_.data()
                                      : r.x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * C;
            dst[a * t_side + b] = v + (a * t_side + b) * v_stride_ + static_cast<size_t>(t) * C;
          }
        }
        WinogradArgs in;
        in.src = src;
        in.dst = dst;
        in.n = C;
        transform(in);
      }

      for (int cg = cg0; cg < cg1; ++cg) {
        // The t² GEMMs for this column group.
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
          const int oh0 = rest / p_.tiles_w * m_side, ow0 = rest % p_.tiles_w * m_side;
          for (int i = 0; i < kPoints; ++i) src[i] = m + i * m_stride_ + static_cast<size_t>(t) * ldm;
          for (int a = 0; a < m_side; ++a)
            for (int b = 0; b < m_side; ++b) {
              const int oh = oh0 + a, ow = ow0 + b;
              const bool valid = oh < s_.OH && ow < s_.OW;
              const size_t at = ((static_cast<size_t>(n) * s_.OH + oh) * s_.OW + ow) * s_.K + col0;
              dst[a * m_side + b] = valid ? r.y + at : nullptr;
              res[a * m_side + b] = valid && r.residual ? r.residual + at : nullptr;
            }
          WinogradArgs out;
          out.output = true;
          out.src = src;
          out.dst = dst;
          out.residual = r.residual ? res : nullptr;
          out.bias = l_.bias ? l_.bias + col0 : nullptr;
          out.n = cols;
          out.act = l_.act;
          transform(out);
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
  const Variant& v_;
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
  explicit Winograd(const Variant& v) : v_(v) {}
  const char* name() const override { return v_.name; }
  bool applicable(const ConvGeometry& s) const override {
    return s.group == 1 && s.KH == 3 && s.KW == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
  }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    // AVX-512's register tile (8 rows) and column groups (256) are assumed.
    const int kPoints = v_.points(), outputs = v_.m * v_.m;
    const Plan p = make_plan(v_, s, 8, 256, m.threads);
    const double tiles = static_cast<double>(p.tiles), C = s.C, K = s.K;
    // The GEMMs: t² multiplies per tile and channel pair where the direct
    // convolution needs 9m², at im2win's efficiency for many channels, lower
    // for few (short K loops).
    const double gemm = 2.0 * kPoints * tiles * C * K / (m.gflops_per_thread * m.threads * 0.7 * C / (C + 8) * 1e6);
    // The transforms, per tile: t² input pixels read and V written, V read by
    // the GEMMs, M written and read, m² outputs written and residuals read. They
    // work on whole vectors of 16 channels, and a partial one costs about two.
    auto vectors = [](double n) { return 16 * (std::ceil(n / 16) + (std::fmod(n, 16) != 0 ? 1 : 0)); };
    const double cv = vectors(C), kv = vectors(K);
    const double transforms = v_.transform_cost * 4.0 * tiles * (kPoints * (3 * cv + 2 * kv) + 2 * outputs * kv);
    // U (t²·C·K floats, t²/9 times the weights) is read once per tile group.
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
    return std::make_unique<WinogradKernel>(v_, l);
  }
  bool fuses_residual() const override { return true; }

 private:
  const Variant& v_;
};

}  // namespace

const ConvAlgorithm& winograd_algorithm() {
  static const Winograd a(kF43);
  return a;
}
const ConvAlgorithm& winograd_f23_algorithm() {
  static const Winograd a(kF23);
  return a;
}
const ConvAlgorithm& winograd_f63_algorithm() {
  static const Winograd a(kF63);
  return a;
}

}  // namespace kiln::cpu
