// Direct convolution: no copy of the input at all. The GEMM reads each
// kernel tap's C/group input channels straight from the NHWC tensor (one
// segment per tap; taps that fall in the padding read a row of zeros), so the
// accumulators stay in registers across all KH·KW taps. Handles groups.
#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

class DirectKernel final : public ConvKernel {
 public:
  explicit DirectKernel(const ConvLayer& l) : l_(l), s_(l.shape), zeros_(static_cast<size_t>(s_.cin_per_group()), 0.0f) {
    const int cg = s_.cin_per_group(), kg = s_.cout_per_group();
    for (int g = 0; g < s_.group; ++g)
      b_.push_back(PackedB::strided(s_.KH * s_.KW * cg, kg, l.simd->nr,
                                    l.weights + static_cast<size_t>(g) * kg * cg * s_.KH * s_.KW,
                                    static_cast<size_t>(cg) * s_.KH * s_.KW,
                                    [&](int k) { return (k % cg) * s_.KH * s_.KW + k / cg; }, l.prepare_pool));
  }

  void run(const ConvRun& r) const override {
    run_grouped_gemm(l_, r, b_, s_.KH * s_.KW, [&](const float* x, int m, int tap) -> const float* {
      const int ow = m % s_.OW, oh = (m / s_.OW) % s_.OH, n = m / (s_.OW * s_.OH);
      const int ih = oh * s_.sh - s_.pt + (tap / s_.KW) * s_.dh;
      const int iw = ow * s_.sw - s_.pl + (tap % s_.KW) * s_.dw;
      if (ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W) return zeros_.data();
      return x + ((static_cast<size_t>(n) * s_.H + ih) * s_.W + iw) * s_.C;
    });
  }

  size_t weight_bytes() const override { return bytes_of(b_); }

 private:
  ConvLayer l_;
  ConvGeometry s_;
  std::vector<PackedB> b_;
  std::vector<float> zeros_;
};

class Direct final : public ConvAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  bool applicable(const ConvGeometry&) const override { return true; }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    // Short per-tap runs (few channels per group) leave the FMA units idle
    // while row addresses are computed. At 0.745 it wins the 7×7 3×3 layers
    // of ResNet-18 and -50 from im2win, whose window copy is not worth it at
    // 7 pixels a row (in-process A/B: layer4.0 of ResNet-50, stride 2,
    // 11-13% faster at 1 and 2 threads; the stride-1 ones 0-8%).
    const double per_tap = std::min(1.0, s.cin_per_group() / 64.0);
    return compute_ms(s, m, std::max(0.05, 0.745 * per_tap));
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override { return std::make_unique<DirectKernel>(l); }
};

}  // namespace

const ConvAlgorithm& direct_algorithm() {
  static const Direct a;
  return a;
}

}  // namespace kiln::cpu
