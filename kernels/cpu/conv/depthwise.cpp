// Depthwise convolution (one filter per channel): vectorised along channels,
// with 3×3 and 5×5 specialised so a channel block's taps stay in registers
// (see simd/kernels.cpp). Weights are repacked to [KH][KW][C].
#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

class DepthwiseKernel final : public ConvKernel {
 public:
  explicit DepthwiseKernel(const ConvLayer& l) : l_(l), s_(l.shape), w_(static_cast<size_t>(s_.KH) * s_.KW * s_.C) {
    for (int c = 0; c < s_.C; ++c)
      for (int kh = 0; kh < s_.KH; ++kh)
        for (int kw = 0; kw < s_.KW; ++kw) w_[(static_cast<size_t>(kh) * s_.KW + kw) * s_.C + c] = onnx_weight(l, c, 0, kh, kw);
  }

  void run(const ConvRun& r) const override {
    // Rows per task: a few per thread, so the threads share the work evenly.
    const int rows = std::max(1, s_.OH / (4 * l_.threads));
    const int64_t per_image = (s_.OH + rows - 1) / rows;
    auto task = [&](size_t i) {
      const int n = static_cast<int>(static_cast<int64_t>(i) / per_image);
      const int oh0 = static_cast<int>(static_cast<int64_t>(i) % per_image) * rows;
      DepthwiseArgs a;
      a.x = r.x + static_cast<size_t>(n) * s_.H * s_.W * s_.C;
      a.y = r.y + static_cast<size_t>(n) * s_.OH * s_.OW * s_.C;
      a.w = w_.data();
      a.bias = l_.bias;
      a.H = s_.H, a.W = s_.W, a.C = s_.C, a.OH = s_.OH, a.OW = s_.OW, a.KH = s_.KH, a.KW = s_.KW;
      a.sh = s_.sh, a.sw = s_.sw, a.dh = s_.dh, a.dw = s_.dw, a.pt = s_.pt, a.pl = s_.pl;
      a.oh_begin = oh0;
      a.oh_end = std::min(s_.OH, oh0 + rows);
      a.act = l_.act;
      l_.simd->depthwise(a);
    };
    r.pool->parallel_for(static_cast<size_t>(s_.N * per_image), task);
  }

  size_t weight_bytes() const override { return w_.size() * sizeof(float); }

 private:
  ConvLayer l_;
  ConvGeometry s_;
  std::vector<float> w_;
};

class Depthwise final : public ConvAlgorithm {
 public:
  const char* name() const override { return "depthwise"; }
  bool applicable(const ConvGeometry& s) const override { return s.is_depthwise(); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const double bytes = 4.0 * (static_cast<double>(s.N) * s.H * s.W * s.C + static_cast<double>(s.output_pixels()) * s.K);
    return compute_ms(s, m, 0.35) + memory_ms(bytes, m);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l) const override { return std::make_unique<DepthwiseKernel>(l); }
  bool fuses_residual() const override { return false; }
};

}  // namespace

const ConvAlgorithm& depthwise_algorithm() {
  static const Depthwise a;
  return a;
}

}  // namespace kiln::cpu
