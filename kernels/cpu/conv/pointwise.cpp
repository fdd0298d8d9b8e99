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
      b_.push_back(PackedB::strided(cg, kg, l.simd->nr, l.weights + static_cast<size_t>(g) * kg * cg, cg,
                                    [](int k) { return k; }, l.prepare_pool));
  }

  void run(const ConvRun& r) const override {
    const bool dense = s_.sh == 1 && s_.sw == 1;
    run_grouped_gemm(l_, r, b_, 1, [&](const float* x, int m, int) -> const float* {
      if (dense) return x + static_cast<size_t>(m) * s_.C;
      const int ow = m % s_.OW, oh = (m / s_.OW) % s_.OH, n = m / (s_.OW * s_.OH);
      return x + ((static_cast<size_t>(n) * s_.H + oh * s_.sh) * s_.W + ow * s_.sw) * s_.C;
    });
  }

  size_t weight_bytes() const override { return bytes_of(b_); }

 private:
  ConvLayer l_;
  ConvGeometry s_;
  std::vector<PackedB> b_;
};

class Pointwise final : public ConvAlgorithm {
 public:
  const char* name() const override { return "gemm1x1"; }
  bool applicable(const ConvGeometry& s) const override { return s.is_pointwise(); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
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
