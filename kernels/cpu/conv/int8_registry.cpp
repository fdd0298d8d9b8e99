// The quantized convolution algorithms (int8_algorithm.hpp) and their cost
// estimates. The rates are per thread, in multiply-adds per nanosecond, fitted
// to kiln_qconv_bench on ResNet-18/50's layers (docs/ARCHITECTURE.md, "int8
// fast convolution"): the u8×s8 GEMM (vpdpbusd: 4 per lane), the int16 GEMM
// of the fast algorithms (vpdpwssd/vpmaddwd: 2 per lane), and the transforms,
// which cost per tile and channel about as much as a few of their products.
#include "engine/runtime/algorithm_selection.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"

namespace kiln::cpu {

namespace {

double per_thread_ms(double macs, double rate, const MachineModel& m) { return macs / (rate * m.threads * 1e6); }

class QDepthwiseAlgorithm final : public QConvAlgorithm {
 public:
  const char* name() const override { return "depthwise"; }
  bool applicable(const ConvGeometry& s) const override { return s.is_depthwise(); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    return per_thread_ms(static_cast<double>(s.macs()), m.int8_dw_macs_per_ns, m);
  }
  std::unique_ptr<QConvKernel> prepare(const QConvLayer& l) const override { return prepare_qdepthwise(l); }
};

// The GEMM on the input (1×1 stride 1) or on an im2col copy.
class QGemmAlgorithm final : public QConvAlgorithm {
 public:
  const char* name() const override { return "im2col"; }
  bool applicable(const ConvGeometry& s) const override { return s.rank == 2; }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const double copy = s.is_pointwise_stride1() ? 0 : static_cast<double>(s.output_pixels()) * s.KH * s.KW * s.C;
    return per_thread_ms(static_cast<double>(s.macs()), m.int8_gemm_macs_per_ns, m) + copy / (m.bandwidth_gbs * m.threads * 1e6);
  }
  std::unique_ptr<QConvKernel> prepare(const QConvLayer& l) const override { return prepare_qgemm(l); }
};

class QFastAlgorithm final : public QConvAlgorithm {
 public:
  QFastAlgorithm(const char* name, const FastTransform1D& (*transform)()) : name_(name), transform_(transform) {}
  const char* name() const override { return name_; }
  bool applicable(const ConvGeometry& s) const override { return fast_conv_applicable(s); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const FastTransform1D& t = transform_();
    const double tiles = static_cast<double>(s.N) * ((s.OH + t.n_out - 1) / t.n_out) * ((s.OW + t.n_out - 1) / t.n_out);
    const double products = tiles * t.terms * t.terms * static_cast<double>(s.C) * s.K;
    // Input transform per channel and output transform per output channel, in product equivalents.
    const double transforms = tiles * t.terms * t.terms * (static_cast<double>(s.C) + s.K) * m.int8_transform_weight;
    return per_thread_ms(products + transforms, m.int16_gemm_macs_per_ns, m);
  }
  std::unique_ptr<QConvKernel> prepare(const QConvLayer& l) const override { return prepare_qfast(l, transform_(), name_); }

 private:
  const char* name_;
  const FastTransform1D& (*transform_)();
};

}  // namespace

const std::vector<const QConvAlgorithm*>& qconv_algorithms() {
  static const QDepthwiseAlgorithm depthwise;
  static const QGemmAlgorithm gemm;
  static const QFastAlgorithm winograd("winograd", winograd_f23_transform);
  static const QFastAlgorithm sfc("sfc", sfc6_transform);
  static const std::vector<const QConvAlgorithm*> all = {&depthwise, &gemm, &winograd, &sfc};
  return all;
}

const QConvAlgorithm* find_qconv_algorithm(const std::string& name) { return find_by_name(qconv_algorithms(), name); }

}  // namespace kiln::cpu
