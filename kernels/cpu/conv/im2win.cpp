// im2win (the window transformation of Lu et al., "im2win: memory efficient
// convolution"): for one output row, the KH input rows it reads are
// interleaved as window[iw][kh][c] over the padded width. The receptive field
// of output pixel ow is then KW runs of KH·C contiguous floats starting at
// window[ow·sw + kw·dw] — a single run when dw = 1 — and consecutive pixels'
// fields overlap in place instead of being copied KW times as in im2col.
// The GEMM reads its A rows straight from the window.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

class Im2winKernel final : public ConvKernel {
 public:
  explicit Im2winKernel(const ConvLayer& l)
      : l_(l),
        s_(l.shape),
        padded_w_(s_.W + s_.pl + s_.pr),
        window_floats_(static_cast<size_t>(padded_w_) * s_.KH * s_.C),
        rows_layout_(use_rows_layout(s_)),
        // B rows in the window's order: kw, then kh, then c (rows layout: kh, kw, c).
        b_(PackedB::strided(s_.KW * s_.KH * s_.C, s_.K, l.simd->nr, l.weights,
                            static_cast<size_t>(s_.C) * s_.KH * s_.KW, [&](int k) {
                              const int c = k % s_.C;
                              const int kh = rows_layout_ ? k / (s_.C * s_.KW) : (k / s_.C) % s_.KH;
                              const int kw = rows_layout_ ? (k / s_.C) % s_.KW : k / (s_.C * s_.KH);
                              return (c * s_.KH + kh) * s_.KW + kw;
                            }, l.prepare_pool)),
        rows_per_task_(output_rows_per_task(s_, window_floats_, b_)),
        slots_(l.threads, window_floats_ * rows_per_task_) {}

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int panels = b_.panels();
    const int64_t all_rows = int64_t{s_.N} * s_.OH;
    const int64_t row_tasks = (all_rows + rows_per_task_ - 1) / rows_per_task_;
    const int ppt = panels_per_task(panels, row_tasks, l_.threads);
    const int64_t p_tasks = (panels + ppt - 1) / ppt;
    const bool one_run = s_.dw == 1;
    const int seg = s_.KH * s_.C;
    auto task = [&](size_t i) {
      const int64_t row0 = static_cast<int64_t>(i) / p_tasks * rows_per_task_;
      const int nrows = static_cast<int>(std::min<int64_t>(rows_per_task_, all_rows - row0));
      const int p0 = static_cast<int>(static_cast<int64_t>(i) % p_tasks) * ppt;
      ScratchSlots::Claim slot(slots_, r.workspace);
      for (int j = 0; j < nrows; ++j) {
        const int n = static_cast<int>((row0 + j) / s_.OH), oh = static_cast<int>((row0 + j) % s_.OH);
        if (rows_layout_) build_rows(r, n, oh, slot.data() + j * window_floats_);
        else build_window(r, n, oh, slot.data() + j * window_floats_);
      }
      const float* windows = slot.data();
      GemmProblem p;
      p.nseg = rows_layout_ ? s_.KH : one_run ? 1 : s_.KW;
      p.seg_len = rows_layout_ ? s_.KW * s_.C : one_run ? s_.KW * seg : seg;
      p.b = &b_;
      p.bias = l_.bias;
      p.act = l_.act;
      // The task's output rows are consecutive pixels of the NHWC output.
      const size_t out_at = static_cast<size_t>(row0) * s_.OW * s_.K;
      p.c = r.y + out_at;
      p.ldc = s_.K;
      p.residual = r.residual ? r.residual + out_at : nullptr;
      p.ldr = s_.K;
      // One output row per task needs no division per row pointer (a stem's
      // K = 27 made the division as costly as the FMAs of a row).
      const size_t row_floats = static_cast<size_t>(padded_w_) * s_.C;
      if (rows_layout_ && nrows == 1)
        gemm_rows(kern, p, 0, s_.OW, p0, std::min(panels, p0 + ppt), [&](int ow, int kh) -> const float* {
          return windows + kh * row_floats + static_cast<size_t>(ow * s_.sw) * s_.C;
        });
      else if (rows_layout_)
        gemm_rows(kern, p, 0, nrows * s_.OW, p0, std::min(panels, p0 + ppt), [&](int m, int kh) -> const float* {
          const int j = m / s_.OW, ow = m % s_.OW;
          return windows + j * window_floats_ + kh * row_floats + static_cast<size_t>(ow * s_.sw) * s_.C;
        });
      else if (nrows == 1)
        gemm_rows(kern, p, 0, s_.OW, p0, std::min(panels, p0 + ppt), [&](int ow, int kw) -> const float* {
          return windows + static_cast<size_t>(ow * s_.sw + kw * s_.dw) * seg;
        });
      else
        gemm_rows(kern, p, 0, nrows * s_.OW, p0, std::min(panels, p0 + ppt), [&](int m, int kw) -> const float* {
          const int j = m / s_.OW, ow = m % s_.OW;
          return windows + j * window_floats_ + static_cast<size_t>(ow * s_.sw + kw * s_.dw) * seg;
        });
    };
    slots_.reset(r.workspace);
    r.pool->parallel_for(static_cast<size_t>(row_tasks * p_tasks), task);
  }

  std::string detail() const override {
    const size_t windows = static_cast<size_t>(s_.N) * s_.OH * window_floats_ * sizeof(float);
    const size_t im2col = static_cast<size_t>(s_.output_pixels()) * s_.KH * s_.KW * s_.C * sizeof(float);
    return "windows " + human_bytes(windows) + " vs im2col " + human_bytes(im2col) + " (held: " +
           human_bytes(slots_.bytes()) + ", " + std::to_string(rows_per_task_) + " output rows per task)";
  }

  size_t weight_bytes() const override { return b_.bytes(); }

 private:
  // Output rows per task. Each task streams the packed weights once for its
  // rows, so narrow layers (7×7: 7 pixels a row) whose weights exceed L2 take
  // several rows at once — one row at a time re-read ResNet-50's 9 MiB
  // layer4 weights from L3 for every output row. Bounded by 512 KiB of windows.
  static int output_rows_per_task(const ConvGeometry& s, size_t window_floats, const PackedB& b) {
    if (b.bytes() <= 512 * 1024) return 1;
    const int want = (64 + s.OW - 1) / s.OW;  // about 64 GEMM rows
    const int by_memory = static_cast<int>(std::max<size_t>(1, (512 * 1024 / sizeof(float)) / window_floats));
    return std::max(1, std::min({want, by_memory, s.OH}));
  }

  // Few channels (a stem's 3): the window as its KH padded input rows,
  // rows[kh][wp][c], each a copy of an input row, and the receptive field as
  // KH runs of KW·C floats. Interleaving kh copied C floats at a time (12
  // bytes for a stem: a quarter of MobileNetV2's stem time went to it).
  // In-process interleaved A/B at one thread: MobileNetV2's stem 7% faster,
  // ResNet-50's 4%.
  static bool use_rows_layout(const ConvGeometry& s) { return s.dw == 1 && s.C < 16; }
  void build_rows(const ConvRun& r, int n, int oh, float* win) const {
    const size_t row_floats = static_cast<size_t>(padded_w_) * s_.C;
    for (int kh = 0; kh < s_.KH; ++kh) {
      const int ih = oh * s_.sh - s_.pt + kh * s_.dh;
      float* d = win + kh * row_floats;
      if (ih < 0 || ih >= s_.H) {
        std::fill_n(d, row_floats, 0.0f);
        continue;
      }
      std::fill_n(d, static_cast<size_t>(s_.pl) * s_.C, 0.0f);
      std::memcpy(d + static_cast<size_t>(s_.pl) * s_.C, r.x + (static_cast<size_t>(n) * s_.H + ih) * s_.W * s_.C,
                  sizeof(float) * s_.W * s_.C);
      std::fill_n(d + static_cast<size_t>(s_.pl + s_.W) * s_.C, static_cast<size_t>(s_.pr) * s_.C, 0.0f);
    }
  }

  // The window of output row oh of image n: window[wp][kh][c] over the padded width.
  void build_window(const ConvRun& r, int n, int oh, float* win) const {
    for (int kh = 0; kh < s_.KH; ++kh) {
      const int ih = oh * s_.sh - s_.pt + kh * s_.dh;
      const bool row_in = ih >= 0 && ih < s_.H;
      // Padding columns (and rows) are zeros; the rest is copied a pixel
      // (C floats) at a time into the kh-th slot of each window column.
      const int wp_lo = row_in ? s_.pl : padded_w_, wp_hi = row_in ? s_.pl + s_.W : padded_w_;
      const size_t stride = static_cast<size_t>(s_.KH) * s_.C;
      float* dst = win + static_cast<size_t>(kh) * s_.C;
      for (int wp = 0; wp < std::min(wp_lo, padded_w_); ++wp) std::fill_n(dst + wp * stride, s_.C, 0.0f);
      for (int wp = wp_hi; wp < padded_w_; ++wp) std::fill_n(dst + wp * stride, s_.C, 0.0f);
      if (wp_lo < wp_hi) {
        const float* src = r.x + (static_cast<size_t>(n) * s_.H + ih) * s_.W * s_.C;
        float* d = dst + wp_lo * stride;
        // A stem's 3 channels are 12 bytes: fixed-size copies beat a memcpy
        // call per pixel (which took half the stem's time).
        if (s_.C == 3) {
          for (int iw = 0; iw < s_.W; ++iw, d += stride, src += 3) {
            d[0] = src[0];
            d[1] = src[1];
            d[2] = src[2];
          }
        } else {
          for (int iw = 0; iw < s_.W; ++iw, d += stride, src += s_.C) std::memcpy(d, src, sizeof(float) * s_.C);
        }
      }
    }
  }

  ConvLayer l_;
  ConvGeometry s_;
  int padded_w_;
  size_t window_floats_;
  bool rows_layout_;
  PackedB b_;
  int rows_per_task_;
  ScratchSlots slots_;
};

class Im2win final : public ConvAlgorithm {
 public:
  const char* name() const override { return "im2win"; }
  bool applicable(const ConvGeometry& s) const override { return s.group == 1 && !s.is_pointwise(); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const double copied = 4.0 * s.N * s.OH * static_cast<double>(s.W + s.pl + s.pr) * s.KH * s.C;
    return compute_ms(s, m, 0.75) + memory_ms(2 * copied, m);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override { return std::make_unique<Im2winKernel>(l); }
};

}  // namespace

const ConvAlgorithm& im2win_algorithm() {
  static const Im2win a;
  return a;
}

}  // namespace kiln::cpu
