// The single-layer convolution algorithms (kernels in conv.cu, cuBLAS, cuDNN),
// their registry and the per-layer selection.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>

#include "kernels/cuda/conv/conv_algorithm.hpp"
#include "kiln/error.hpp"

namespace kiln::cuda {

namespace {

constexpr double kF = sizeof(float);

double roofline_ms(const ConvGeometry& s, const DeviceModel& d, double compute_efficiency, double extra_bytes = 0) {
  const double bytes =
      (static_cast<double>(s.input_elems()) + static_cast<double>(s.output_elems()) + static_cast<double>(s.weight_elems())) * kF +
      extra_bytes;
  const double flops = 2.0 * static_cast<double>(s.macs());
  const double ms = std::max(bytes / (d.bandwidth_gbs * 1e9), flops / (d.fp32_gflops * 1e9 * compute_efficiency)) * 1e3;
  return ms + d.launch_us * 1e-3;
}

// The weights and bias as the kernels of conv.cu read them (ONNX order).
struct Weights {
  WeightStore::Handle w = WeightStore::kNone, b = WeightStore::kNone;
};
Weights upload_onnx_order(const ConvLayer& l, WeightStore& store) {
  Weights out;
  out.w = store.add(l.weights, static_cast<size_t>(l.shape.weight_elems()));
  if (l.bias) out.b = store.add(l.bias, static_cast<size_t>(l.shape.K));
  return out;
}

// A kernel that reads the weights in ONNX order, as uploaded, and needs no
// workspace: the direct (cuConv) and depthwise convolutions differ only in
// which launch they call.
using OnnxOrderLaunch = void (*)(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g,
                                 Act act, cudaStream_t s);
class OnnxOrderKernel final : public ConvKernel {
 public:
  OnnxOrderKernel(const ConvLayer& l, WeightStore& s, OnnxOrderLaunch launch)
      : g_(l.shape), act_(l.act), w_(upload_onnx_order(l, s)), store_(s), launch_(launch) {}
  void run(const ConvIo& io) const override {
    launch_(io.x, store_.ptr(w_.w), store_.ptr(w_.b), io.y, g_, act_, io.stream);
  }

 private:
  ConvGeometry g_;
  Act act_;
  Weights w_;
  const WeightStore& store_;
  OnnxOrderLaunch launch_;
};

// ---- direct (cuConv) -------------------------------------------------------------------

class DirectAlgorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "direct"; }
  bool applicable(const ConvGeometry&) const override { return true; }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override { return roofline_ms(s, d, 0.12); }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext&, WeightStore& s) const override {
    return std::make_unique<OnnxOrderKernel>(l, s, launch_conv_direct);
  }
};

// ---- depthwise ---------------------------------------------------------------------------

class DepthwiseAlgorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "depthwise"; }
  bool applicable(const ConvGeometry& s) const override {
    return s.one_input_channel_per_group() && s.is_planar();
  }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override { return roofline_ms(s, d, 0.3); }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext&, WeightStore& s) const override {
    return std::make_unique<OnnxOrderKernel>(l, s, launch_conv_depthwise);
  }
};

// ---- im2win ------------------------------------------------------------------------------
class Im2winKernel final : public ConvKernel {
 public:
  Im2winKernel(const ConvLayer& l, WeightStore& s) : g_(l.shape), act_(l.act), w_(upload_onnx_order(l, s)), store_(s) {}
  size_t workspace_bytes() const override { return im2win_workspace_bytes(g_); }
  void run(const ConvIo& io) const override {
    launch_conv_im2win(io.x, store_.ptr(w_.w), store_.ptr(w_.b), io.y, static_cast<float*>(io.workspace), g_, act_,
                       io.stream);
  }
  std::string detail() const override { return fmt::format("window buffer {} KiB", workspace_bytes() / 1024); }

 private:
  ConvGeometry g_;
  Act act_;
  Weights w_;
  const WeightStore& store_;
};

class Im2winAlgorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "im2win"; }
  bool applicable(const ConvGeometry& s) const override {
    return s.is_planar() && im2win_workspace_bytes(s) <= (size_t{512} << 20);
  }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override {
    const double win = static_cast<double>(im2win_workspace_bytes(s));
    return roofline_ms(s, d, 0.2, 2 * win) + d.launch_us * 1e-3;
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext&, WeightStore& s) const override {
    return std::make_unique<Im2winKernel>(l, s);
  }
};

// ---- implicit GEMM -----------------------------------------------------------------------
class ImplicitGemmKernel final : public ConvKernel {
 public:
  ImplicitGemmKernel(const ConvLayer& l, WeightStore& s) : g_(l.shape), act_(l.act), store_(s) {
    // [group][K/g][R] -> [group][R][K/g] so that a tile row of weights is contiguous.
    const ConvGeometry& sh = l.shape;
    const int Kg = sh.cout_per_group(), R = sh.cin_per_group() * sh.KH * sh.KW;
    std::vector<float> wt(static_cast<size_t>(sh.weight_elems()));
    for (int grp = 0; grp < sh.group; ++grp)
      for (int m = 0; m < Kg; ++m)
        for (int r = 0; r < R; ++r)
          wt[(static_cast<size_t>(grp) * R + r) * Kg + m] = l.weights[(static_cast<size_t>(grp) * Kg + m) * R + r];
    w_ = s.add(std::move(wt));
    if (l.bias) b_ = s.add(l.bias, static_cast<size_t>(sh.K));
  }
  void run(const ConvIo& io) const override {
    launch_conv_implicit_gemm(io.x, store_.ptr(w_), store_.ptr(b_), io.y, g_, act_, io.stream);
  }

 private:
  ConvGeometry g_;
  Act act_;
  WeightStore::Handle w_ = WeightStore::kNone, b_ = WeightStore::kNone;
  const WeightStore& store_;
};

class ImplicitGemmAlgorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "implicit_gemm"; }
  bool applicable(const ConvGeometry& s) const override { return s.is_planar(); }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override {
    // Tiles of 64 output channels: small K/group wastes most of each tile.
    const double fill = std::min(1.0, s.cout_per_group() / 64.0);
    return roofline_ms(s, d, 0.35 * fill);
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext&, WeightStore& s) const override {
    return std::make_unique<ImplicitGemmKernel>(l, s);
  }
};

// A layer run by a library call (cuBLAS, cuDNN) that writes the plain
// convolution: the bias and the activation follow in one pass.
class LibraryKernel : public ConvKernel {
 protected:
  LibraryKernel(const ConvLayer& l, GpuContext& ctx, WeightStore& s)
      : s_(l.shape), act_(l.act), w_(upload_onnx_order(l, s)), ctx_(ctx), store_(s) {}
  void epilogue(const ConvIo& io) const {
    if (w_.b != WeightStore::kNone || act_.kind != ActKind::None)
      launch_channel_affine(io.y, io.y, nullptr, store_.ptr(w_.b), s_.N, s_.K, int64_t{s_.OH} * s_.OW, act_, io.stream);
  }

  ConvGeometry s_;
  Act act_;
  Weights w_;
  GpuContext& ctx_;
  const WeightStore& store_;
};

// ---- 1x1 as GEMM (cuBLAS) ----------------------------------------------------------------
class Gemm1x1Kernel final : public LibraryKernel {
 public:
  Gemm1x1Kernel(const ConvLayer& l, GpuContext& ctx, WeightStore& s) : LibraryKernel(l, ctx, s) {}
  void run(const ConvIo& io) const override {
    // Row-major Y[n] (K x P) = W (K x C) * X[n] (C x P) is, column-major,
    // Y^T (P x K) = X^T (P x C) * W^T (C x K): one strided batch over images.
    const int P = s_.OH * s_.OW;
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemmStridedBatched(ctx_.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, P, s_.K, s_.C, &one, io.x, P,
                                    int64_t{s_.C} * P, store_.ptr(w_.w), s_.C, 0, &zero, io.y, P, int64_t{s_.K} * P,
                                    s_.N),
          "cublasSgemmStridedBatched (1x1 convolution)");
    epilogue(io);
  }
};

class Gemm1x1Algorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "gemm1x1"; }
  bool applicable(const ConvGeometry& s) const override {
    return s.is_pointwise_stride1() && s.is_dense() && s.is_planar();
  }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override {
    const double extra = static_cast<double>(s.input_elems()) * kF * std::max(0.0, std::ceil(s.K / 128.0) - 1) +
                         2.0 * static_cast<double>(s.output_elems()) * kF;  // epilogue pass
    return roofline_ms(s, d, 0.7, extra) + d.launch_us * 1e-3;
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext& ctx, WeightStore& s) const override {
    return std::make_unique<Gemm1x1Kernel>(l, ctx, s);
  }
};

// ---- cuDNN (the baseline) ----------------------------------------------------------------
class CudnnKernel final : public LibraryKernel {
 public:
  CudnnKernel(const ConvLayer& l, GpuContext& ctx, WeightStore& s) : LibraryKernel(l, ctx, s) {
    const ConvGeometry& c = s_;
    check(cudnnCreateTensorDescriptor(&x_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&y_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&w_desc_), "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&conv_), "cudnnCreateConvolutionDescriptor");
    check(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, c.N, c.C, c.H, c.W), "cudnnSetTensor4dDescriptor");
    check(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, c.N, c.K, c.OH, c.OW), "cudnnSetTensor4dDescriptor");
    check(cudnnSetFilter4dDescriptor(w_desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c.K, c.cin_per_group(), c.KH, c.KW),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv_, c.pt, c.pl, c.sh, c.sw, c.dh, c.dw, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv_, c.group), "cudnnSetConvolutionGroupCount");
    // FMA math: no TF32, so results stay within float32 rounding of the reference.
    check(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
    // cuDNN's own heuristic ranking; deterministic mode keeps only algorithms
    // cuDNN declares deterministic.
    constexpr int kMax = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    int returned = 0;
    check(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), x_, w_desc_, conv_, y_, kMax, &returned, perf),
          "cudnnGetConvolutionForwardAlgorithm_v7");
    bool found = false;
    for (int i = 0; i < returned && !found; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      // The descriptor asks for FMA math; entries with another math type (TF32
      // tensor cores) would not keep results within float32 rounding.
      if (perf[i].mathType != CUDNN_FMA_MATH) continue;
      if (ctx.deterministic() && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
      if (perf[i].memory > (size_t{1} << 30)) continue;
      algo_ = perf[i].algo;
      found = true;
    }
    if (!found) {
      algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;  // deterministic, no workspace
    }
    check(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), x_, w_desc_, conv_, y_, algo_, &workspace_),
          "cudnnGetConvolutionForwardWorkspaceSize");
  }
  ~CudnnKernel() override {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_desc_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  size_t workspace_bytes() const override { return workspace_; }
  void run(const ConvIo& io) const override {
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionForward(ctx_.cudnn(), &one, x_, io.x, w_desc_, store_.ptr(w_.w), conv_, algo_, io.workspace,
                                  workspace_, &zero, y_, io.y),
          "cudnnConvolutionForward");
    epilogue(io);
  }
  std::string detail() const override { return fmt::format("cudnn algo {}", static_cast<int>(algo_)); }

 private:
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace_ = 0;
};

class CudnnAlgorithm final : public ConvAlgorithm {
 public:
  const char* name() const override { return "cudnn"; }
  // cuDNN pads symmetrically only.
  bool applicable(const ConvGeometry& s) const override { return s.is_planar() && s.has_symmetric_pads(); }
  double cost_ms(const ConvGeometry& s, const DeviceModel& d) const override {
    // Grouped (and depthwise) convolutions run far below peak in cuDNN's fp32 paths.
    const double eff = s.group == 1 ? 0.65 : 0.1;
    return roofline_ms(s, d, eff, 2.0 * static_cast<double>(s.output_elems()) * kF) + 2 * d.launch_us * 1e-3;
  }
  std::unique_ptr<ConvKernel> prepare(const ConvLayer& l, GpuContext& ctx, WeightStore& s) const override {
    return std::make_unique<CudnnKernel>(l, ctx, s);
  }
};

}  // namespace

const std::vector<const ConvAlgorithm*>& conv_algorithms() {
  static const Gemm1x1Algorithm gemm1x1;
  static const DepthwiseAlgorithm depthwise;
  static const ImplicitGemmAlgorithm implicit_gemm;
  static const Im2winAlgorithm im2win;
  static const CudnnAlgorithm cudnn;
  static const DirectAlgorithm direct;
  static const std::vector<const ConvAlgorithm*> all = {&gemm1x1, &depthwise, &implicit_gemm, &im2win, &cudnn, &direct};
  return all;
}

const ConvAlgorithm* find_conv_algorithm(const std::string& name) { return find_by_name(conv_algorithms(), name); }

std::vector<std::string> conv_algorithm_names() { return names_of(conv_algorithms(), {kFcmDwPw, kFcmPwDw}); }

ConvSelector::ConvSelector(const BackendOptions& options, GpuContext& ctx) : ctx_(ctx) {
  mode_ = options.selection;
  if (mode_.fixed()) fixed_ = find_conv_algorithm(mode_.fixed_name);
  // Key: device name, shape and activation (2 fields, then the algorithm).
  if (mode_.tune()) cache_.emplace(TuningCache::path_for(options, "cuda"), 2);
}

Selection ConvSelector::heuristic(const ConvGeometry& s) const {
  const auto best = cheapest(
      conv_algorithms(), [&](const ConvAlgorithm& a) { return a.applicable(s); },
      [&](const ConvAlgorithm& a) { return a.cost_ms(s, ctx_.model()); });
  return {best.algorithm, best.ms, -1, "heuristic"};
}

Selection ConvSelector::choose(const ConvLayer& layer) {
  const ConvGeometry& s = layer.shape;
  if (mode_.fixed() && fixed_ && fixed_->applicable(s)) return {fixed_, fixed_->cost_ms(s, ctx_.model()), -1, "fixed"};
  if (mode_.tune()) return tune(layer);
  Selection h = heuristic(s);
  if (mode_.fixed()) h.how = "heuristic (" + mode_.fixed_name + " does not apply)";
  return h;
}

Selection ConvSelector::tune(const ConvLayer& layer) {
  const ConvGeometry& s = layer.shape;
  const TuningCache::Key key{ctx_.model().name, s.key() + fmt::format(" act{}", static_cast<int>(layer.act.kind))};
  if (const std::string* cached = cache_->find(key))
    if (const ConvAlgorithm* a = find_conv_algorithm(*cached); a && a->applicable(s))
      return {a, a->cost_ms(s, ctx_.model()), -1, "tuning cache"};
  // Time every candidate on random data of the layer's shape with CUDA events.
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> xh(static_cast<size_t>(s.input_elems()));
  for (float& v : xh) v = dist(rng);
  DeviceBuffer x(xh.size() * sizeof(float)), y(static_cast<size_t>(s.output_elems()) * sizeof(float));
  // On the model's (non-blocking) stream, which the timed kernels use: a
  // cudaMemcpy on the legacy stream would not be ordered with them.
  check(cudaMemcpyAsync(x.get(), xh.data(), xh.size() * sizeof(float), cudaMemcpyHostToDevice, ctx_.stream()),
        "cudaMemcpyAsync (tuning input)");
  check(cudaStreamSynchronize(ctx_.stream()), "tuning input upload");
  const Event start, stop;
  std::string line;
  const auto time = [&](const ConvAlgorithm& a) {
    WeightStore store;
    auto kernel = a.prepare(layer, ctx_, store);
    store.upload(ctx_.stream());
    DeviceBuffer ws(kernel->workspace_bytes());
    const ConvIo io{x.floats(), y.floats(), ws.get(), ctx_.stream()};
    kernel->run(io);  // warm-up
    double ms = 1e30;
    for (int i = 0; i < 3; ++i) {
      check(cudaEventRecord(start.get(), ctx_.stream()), "cudaEventRecord");
      kernel->run(io);
      check(cudaEventRecord(stop.get(), ctx_.stream()), "cudaEventRecord");
      check(cudaEventSynchronize(stop.get()), "cudaEventSynchronize");
      float t = 0;
      check(cudaEventElapsedTime(&t, start.get(), stop.get()), "cudaEventElapsedTime");
      ms = std::min(ms, static_cast<double>(t));
    }
    line += fmt::format(" {} {:.4f} ms,", a.name(), ms);
    return ms;
  };
  const auto best = cheapest(conv_algorithms(), [&](const ConvAlgorithm& a) { return a.applicable(s); }, time);
  // Every candidate's time goes into the node's detail, not onto stderr.
  if (!line.empty()) line.pop_back();
  cache_->record(key, best.algorithm->name(), best.ms);
  return {best.algorithm, best.algorithm->cost_ms(s, ctx_.model()), best.ms, "tuned:" + line};
}

}  // namespace kiln::cuda
