// The quantized convolution algorithms (int8_algorithm.hpp) and their cost
// estimates: multiply-adds over a rate per thread (MachineModel, set per ISA
// level by ConvSelector from kiln_qconv_bench on ResNet-18's layers,
// docs/ARCHITECTURE.md "int8 fast convolution"), plus for Winograd and SFC
// the transformed weights streamed once per tile block. Their transforms
// (about 3% of their time each) are left out.
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
  // Not depthwise: one GEMM per channel with K = 9 is far slower than the depthwise kernel.
  bool applicable(const ConvGeometry& s) const override { return s.rank == 2 && !s.is_depthwise(); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const double copy = s.is_pointwise_stride1() ? 0 : static_cast<double>(s.output_pixels()) * s.KH * s.KW * s.C;
    return per_thread_ms(static_cast<double>(s.macs()), m.int8_gemm_macs_per_ns, m) + copy / (m.bandwidth_gbs * m.threads * 1e6);
  }
  std::unique_ptr<QConvKernel> prepare(const QConvLayer& l) const override { return prepare_qgemm(l); }
  bool fuses_residual() const override { return true; }
};

class QFastAlgorithm final : public QConvAlgorithm {
 public:
  QFastAlgorithm(const char* name, const FastTransform1D& (*transform)()) : name_(name), transform_(transform) {}
  const char* name() const override { return name_; }
  bool applicable(const ConvGeometry& s) const override { return fast_conv_applicable(s); }
  double cost_ms(const ConvGeometry& s, const MachineModel& m) const override {
    const FastTransform1D& t = transform_();
    const FastConvPlan plan = fast_conv_plan(s, t, m.threads);
    const double products = static_cast<double>(plan.tiles) * t.terms * t.terms * static_cast<double>(s.C) * s.K;
    // Each block streams all of the transformed weights; blocks run in parallel.
    const double stream = static_cast<double>(plan.blocks) * plan.weight_bytes / (m.int16_weight_gbs * m.threads * 1e6);
    return per_thread_ms(products, m.int16_gemm_macs_per_ns, m) + stream;
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
