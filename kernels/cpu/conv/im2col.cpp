// im2col + GEMM: each task copies the receptive fields of its output pixels
// into rows of KH·KW·C floats (zeros for padding) in a per-thread slot, then
// runs the packed GEMM on them. Only a tile of the im2col matrix ever exists.
#include <cstring>

#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

class Im2colKernel final : public ConvKernel {
 public:
  explicit Im2colKernel(const ConvLayer& l)
      : l_(l),
        s_(l.shape),
        k_total_(s_.KH * s_.KW * s_.C),
        rows_(rows_per_task(s_.output_pixels(), l.simd->mr, l.threads, k_total_)),
        b_(PackedB::strided(k_total_, s_.K, l.simd->nr, l.weights, static_cast<size_t>(k_total_),
                            [&](int k) { return (k % s_.C) * s_.KH * s_.KW + k / s_.C; }, l.prepare_pool)),
        slots_(l.threads, static_cast<size_t>(rows_) * k_total_) {}

  size_t workspace_bytes() const override { return slots_.bytes(); }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int64_t M = s_.output_pixels();
    const int panels = b_.panels();
    const int64_t m_tasks = (M + rows_ - 1) / rows_;
    const int ppt = panels_per_task(panels, m_tasks, l_.threads);
    const int64_t p_tasks = (panels + ppt - 1) / ppt;
    auto task = [&](size_t i) {
      const int m0 = static_cast<int>(static_cast<int64_t>(i) / p_tasks) * rows_;
      const int p0 = static_cast<int>(static_cast<int64_t>(i) % p_tasks) * ppt;
      const int m1 = static_cast<int>(std::min<int64_t>(M, m0 + rows_));
      ScratchSlots::Claim slot(slots_, r.workspace);
      float* cols = slot.data();
      for (int m = m0; m < m1; ++m) {
        const int ow = m % s_.OW, oh = (m / s_.OW) % s_.OH, n = m / (s_.OW * s_.OH);
        float* row = cols + static_cast<size_t>(m - m0) * k_total_;
        for (int kh = 0; kh < s_.KH; ++kh) {
          const int ih = oh * s_.sh - s_.pt + kh * s_.dh;
          for (int kw = 0; kw < s_.KW; ++kw, row += s_.C) {
            const int iw = ow * s_.sw - s_.pl + kw * s_.dw;
            if (ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W)
              std::memset(row, 0, sizeof(float) * s_.C);
            else
              std::memcpy(row, r.x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * s_.C, sizeof(float) * s_.C);
          }
        }
      }
      GemmProblem p;
      p.seg_len = k_total_;
      p.b = &b_;
      p.bias = l_.bias;
      p.act = l_.act;
      p.c = r.y;
      p.ldc = s_.K;
      p.residual = r.residual;
      p.ldr = s_.K;
      gemm_rows(kern, p, m0, m1, p0, std::min(panels, p0 + ppt),
                [&](int m, int) -> const float* { return cols + static_cast<size_t>(m - m0) * k_total_; });
    };
    slots_.reset(r.workspace);
    r.pool->parallel_for(static_cast<size_t>(m_tasks * p_tasks), task);
  }

  std::string detail() const override {
    const size_t full = static_cast<size_t>(s_.output_pixels()) * k_total_ * sizeof(float);
    return "workspace " + human_bytes(slots_.bytes()) + " (full im2col matrix " + human_bytes(full) + ")";
  }

  size_t weight_bytes() const override { return b_.bytes(); }

 private:
  ConvLayer l_;
  ConvGeometry s_;
  int k_total_;
  int rows_;
  PackedB b_;
  ScratchSlots slots_;
};

class Im2col final : public ConvAlgorithm {
 public:
  const char* name() const override { return "im2col"; }
  bool applicable(const ConvGeometry& s) const override { return s.group == 1; }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const double copied = 4.0 * static_cast<double>(s.output_pixels()) * s.KH * s.KW * s.C;
    return compute_ms(s, m, 0.75) + memory_ms(2 * copied, m);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override { return std::make_unique<Im2colKernel>(l); }
};

}  // namespace

const ConvAlgorithm& im2col_algorithm() {
  static const Im2col a;
  return a;
}

}  // namespace kiln::cpu
