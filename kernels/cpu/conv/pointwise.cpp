// 1×1 convolution as one GEMM per group: the NHWC input already is A (a row
// per output pixel, strided when the convolution is), so nothing is copied.
#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

class PointwiseKernel final : public ConvKernel {
 public:
  explicit PointwiseKernel(const ConvLayer& l) : l_(l), s_(l.shape) {
    const int cg = s_.cin_per_group(), kg = s_.cout_per_group();
    for (int g = 0; g < s_.group; ++g)
      b_.emplace_back(cg, kg, l.simd->nr, [&](int k, int j) { return onnx_weight(l, g * kg + j, k, 0, 0); });
  }

  void run(const ConvRun& r) const override {
    const SimdKernels& kern = *l_.simd;
    const int cg = s_.cin_per_group(), kg = s_.cout_per_group();
    const int64_t M = s_.output_pixels();
    const int rows = rows_per_task(M, kern.mr, l_.threads, cg);
    const int panels = b_[0].panels();
    const int ppt = panels_per_task(kern, panels);
    const int64_t m_tasks = (M + rows - 1) / rows, p_tasks = (panels + ppt - 1) / ppt;
    auto task = [&](size_t i) {
      const int g = static_cast<int>(i / (m_tasks * p_tasks));
      const int64_t rest = static_cast<int64_t>(i % (m_tasks * p_tasks));
      const int m0 = static_cast<int>(rest / p_tasks) * rows, p0 = static_cast<int>(rest % p_tasks) * ppt;
      GemmProblem p;
      p.nseg = 1;
      p.seg_len = cg;
      p.b = &b_[g];
      p.bias = l_.bias ? l_.bias + g * kg : nullptr;
      p.act = l_.act;
      p.c = r.y + g * kg;
      p.ldc = s_.K;
      p.residual = r.residual ? r.residual + g * kg : nullptr;
      p.ldr = s_.K;
      const bool dense = s_.sh == 1 && s_.sw == 1;
      const float* x = r.x + g * cg;
      gemm_rows(kern, p, m0, static_cast<int>(std::min<int64_t>(M, m0 + rows)), p0, std::min(panels, p0 + ppt),
                [&](int m, int) -> const float* {
                  if (dense) return x + static_cast<size_t>(m) * s_.C;
                  const int ow = m % s_.OW, oh = (m / s_.OW) % s_.OH, n = m / (s_.OW * s_.OH);
                  return x + ((static_cast<size_t>(n) * s_.H + oh * s_.sh) * s_.W + ow * s_.sw) * s_.C;
                });
    };
    r.pool->parallel_for(static_cast<size_t>(s_.group * m_tasks * p_tasks), task);
  }

 private:
  ConvLayer l_;
  ConvShape s_;
  std::vector<PackedB> b_;
};

class Pointwise final : public ConvAlgorithm {
 public:
  const char* name() const override { return "gemm1x1"; }
  bool applicable(const ConvShape& s) const override { return s.pointwise(); }
  double cost_ms(const ConvShape& s, const MachineModel& m) const override {
    // Reads the input in place: no traffic beyond what every algorithm has.
    return compute_ms(s, m, 0.8);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override { return std::make_unique<PointwiseKernel>(l); }
};

}  // namespace

const ConvAlgorithm& pointwise_algorithm() {
  static const Pointwise a;
  return a;
}

}  // namespace kiln::cpu
