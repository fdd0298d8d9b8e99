// im2win (the window transformation of Lu et al., "im2win: memory efficient
// convolution"): for one output row, the KH input rows it reads are
// interleaved as window[iw][kh][c] over the padded width. The receptive field
// of output pixel ow is then KW runs of KH·C contiguous floats starting at
// window[ow·sw + kw·dw] — a single run when dw = 1 — and consecutive pixels'
// fields overlap in place instead of being copied KW times as in im2col.
// The GEMM reads its A rows straight from the window.
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
        // B rows in the window's order: kw, then kh, then c.
        b_(s_.KW * s_.KH * s_.C, s_.K, l.simd->nr,
           [&](int k, int j) {
             const int c = k % s_.C, kh = (k / s_.C) % s_.KH, kw = k / (s_.C * s_.KH);
             return onnx_weight(l, j, c, kh, kw);
           }),
        slots_(l.threads, window_floats_) {}

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int panels = b_.panels(), ppt = panels_per_task(kern, panels);
    const int64_t row_tasks = int64_t{s_.N} * s_.OH, p_tasks = (panels + ppt - 1) / ppt;
    const bool one_run = s_.dw == 1;
    const int seg = s_.KH * s_.C;
    auto task = [&](size_t i) {
      const int64_t row = static_cast<int64_t>(i) / p_tasks;
      const int p0 = static_cast<int>(static_cast<int64_t>(i) % p_tasks) * ppt;
      const int n = static_cast<int>(row / s_.OH), oh = static_cast<int>(row % s_.OH);
      ScratchSlots::Claim slot(slots_, r.workspace);
      float* win = slot.data();
      for (int kh = 0; kh < s_.KH; ++kh) {
        const int ih = oh * s_.sh - s_.pt + kh * s_.dh;
        const bool row_in = ih >= 0 && ih < s_.H;
        for (int wp = 0; wp < padded_w_; ++wp) {
          const int iw = wp - s_.pl;
          float* dst = win + (static_cast<size_t>(wp) * s_.KH + kh) * s_.C;
          if (!row_in || iw < 0 || iw >= s_.W)
            std::memset(dst, 0, sizeof(float) * s_.C);
          else
            std::memcpy(dst, r.x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * s_.C, sizeof(float) * s_.C);
        }
      }
      GemmProblem p;
      p.nseg = one_run ? 1 : s_.KW;
      p.seg_len = one_run ? s_.KW * seg : seg;
      p.b = &b_;
      p.bias = l_.bias;
      p.act = l_.act;
      const size_t out_row = static_cast<size_t>(row) * s_.OW * s_.K;
      p.c = r.y + out_row;
      p.ldc = s_.K;
      p.residual = r.residual ? r.residual + out_row : nullptr;
      p.ldr = s_.K;
      gemm_rows(kern, p, 0, s_.OW, p0, std::min(panels, p0 + ppt), [&](int ow, int kw) -> const float* {
        return win + static_cast<size_t>(ow * s_.sw + kw * s_.dw) * seg;
      });
    };
    r.pool->parallel_for(static_cast<size_t>(row_tasks * p_tasks), task);
  }

  std::string detail() const override {
    const size_t windows = static_cast<size_t>(s_.N) * s_.OH * window_floats_ * sizeof(float);
    const size_t im2col = static_cast<size_t>(s_.output_pixels()) * s_.KH * s_.KW * s_.C * sizeof(float);
    return "windows " + human_bytes(windows) + " vs im2col " + human_bytes(im2col) + " (held: " +
           human_bytes(slots_.bytes()) + ")";
  }

 private:
  ConvLayer l_;
  ConvShape s_;
  int padded_w_;
  size_t window_floats_;
  PackedB b_;
  ScratchSlots slots_;
};

class Im2win final : public ConvAlgorithm {
 public:
  const char* name() const override { return "im2win"; }
  bool applicable(const ConvShape& s) const override { return s.group == 1 && !s.pointwise(); }
  double cost_ms(const ConvShape& s, const MachineModel& m) const override {
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
