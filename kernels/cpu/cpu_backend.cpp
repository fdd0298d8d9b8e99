// The CPU backend: NHWC SIMD kernels, per-layer convolution algorithms and a
// thread pool. Lowering (lowering.hpp, one file per op family under ops/)
// happens once, at compile time; run() only calls the bound steps.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/passes/passes.hpp"
#include "engine/runtime/context_pool.hpp"
#include "engine/runtime/memory_budget.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "kernels/cpu/lowering.hpp"
#include "kernels/cpu/ops/ops.hpp"
#include "kernels/reference/kernels.hpp"
#include "kiln/error.hpp"

namespace kiln::cpu {

namespace {
// [N][C][HW] <-> [N][HW][C], for float32 or one-byte (quantized) elements,
// in blocks of pixels split over the pool. Within a block, up to 16 channels
// per pass, so that one side moves in runs of 16 elements and the other in
// runs of a block; a model's input (3 channels) has its channel count known
// at compile time. The element-at-a-time loop on one thread took 80-120 µs
// for a 3×224×224 input, a fifth of MobileNetV2's stem, and 4× as long as
// this for 32-64 channels.
constexpr int64_t kPixels = 64, kChannels = 16;
template <class T, int CC>  // CC > 0: C == CC
void convert_block(bool to_nhwc, const T* x, T* y, int64_t C, int64_t HW, int64_t p0, int64_t p1) {
  const int64_t channels = CC > 0 ? CC : C;
  for (int64_t c0 = 0; c0 < channels; c0 += kChannels) {
    const int64_t cn = std::min(kChannels, channels - c0);
    if (to_nhwc) {
      for (int64_t p = p0; p < p1; ++p) {
        T* yp = y + p * channels + c0;
        const T* xp = x + c0 * HW + p;
        for (int64_t c = 0; c < cn; ++c) yp[c] = xp[c * HW];
      }
    } else {
      for (int64_t p = p0; p < p1; ++p) {
        T* yp = y + c0 * HW + p;
        const T* xp = x + p * channels + c0;
        for (int64_t c = 0; c < cn; ++c) yp[c * HW] = xp[c];
      }
    }
  }
}
template <class T>
void convert_layout(bool to_nhwc, const T* x, T* y, const Shape& s, ThreadPool& pool) {
  const int64_t N = s[0], C = s[1], HW = s[2] * s[3];
  const int64_t blocks = (HW + kPixels - 1) / kPixels;
  auto block = C == 1 ? convert_block<T, 1> : C == 2 ? convert_block<T, 2> : C == 3 ? convert_block<T, 3>
             : C == 4 ? convert_block<T, 4> : convert_block<T, 0>;
  auto task = [&](size_t i) {
    const int64_t n = static_cast<int64_t>(i) / blocks, p0 = static_cast<int64_t>(i) % blocks * kPixels;
    block(to_nhwc, x + n * C * HW, y + n * C * HW, C, HW, p0, std::min(HW, p0 + kPixels));
  };
  pool.parallel_for(static_cast<size_t>(N * blocks), task);
}
}  // namespace

// ---- Lowering: the helpers every family's lowering shares -----------------------------

Lowering::Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options)
    : LoweringBase(std::move(graph)),
      isa_(choose_isa(options.cpu.isa)),
      simd_(options.deterministic == Determinism::Portable ? &portable_simd_kernels(isa_) : &simd_kernels(isa_)),
      int8_(&int8_kernels(isa_)),
      threads_(options.threads),
      prepare_pool_(options.threads > 1 ? std::make_unique<ThreadPool>(options.threads) : nullptr),
      selector_(options, isa_) {
  set_progress(options.progress);
  layouts_.assign(graph_->tensors.size(), Layout::NCHW);
}

TensorId Lowering::in_layout(TensorId t, Layout want, int node) {
  if (layout(t) == want || layouts_coincide(shape(t)) || is_const(t)) return t;
  const auto key = std::make_pair(t, want);
  if (auto it = converted_.find(key); it != converted_.end()) return it->second;
  const TensorId c = lowered.add_tensor(
      lowered.unique_tensor_name(lowered.tensor(t).name + "/" + (want == Layout::NHWC ? "nhwc" : "nchw")), shape(t));
  lowered.tensor(c).dtype = lowered.tensor(t).dtype;
  lowered.tensor(c).quant = lowered.tensor(t).quant;
  layouts_.push_back(want);
  converted_[key] = c;
  const Shape s = shape(t);
  const bool bytes = dtype_size(lowered.tensor(t).dtype) == 1;
  add_step(node, OpType::Transpose, {t}, {c}, [t, c, want, s, bytes](RunContext& f) {
    if (bytes)
      convert_layout(want == Layout::NHWC, f.bytes(t), f.bytes(c), s, f.pool());
    else
      convert_layout(want == Layout::NHWC, f.ptr(t), f.ptr(c), s, f.pool());
  });
  return c;
}

void Lowering::add_step(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out,
                        std::function<void(RunContext&)> fn) {
  add_lowered_node(node, op, std::move(in), std::move(out));
  steps.push_back({node, std::move(fn)});
}

const ConvKernel* Lowering::keep(std::unique_ptr<ConvKernel> kernel) {
  weight_bytes += kernel->weight_bytes();
  conv_kernels_.push_back(std::move(kernel));
  return conv_kernels_.back().get();
}

const PackedB& Lowering::keep(PackedB packed) {
  weight_bytes += packed.bytes();
  packed_.push_back(std::make_unique<PackedB>(std::move(packed)));
  return *packed_.back();
}

void Lowering::add_conv_step(int node, const ConvKernel* kernel, TensorId xin, TensorId rin, TensorId out) {
  std::vector<TensorId> ins{xin};
  if (rin >= 0) ins.push_back(rin);
  add_step(node, OpType::Conv, ins, {out}, [kernel, xin, rin, out](RunContext& f) {
    kernel->run({f.ptr(xin), f.ptr(out), rin >= 0 ? f.ptr(rin) : nullptr, f.workspace(), &f.pool()});
  });
}

void Lowering::add_qconv_step(int node, std::unique_ptr<QConvKernel> kernel, TensorId xin, TensorId out,
                              TensorId rin) {
  weight_bytes += kernel->weight_bytes();
  qconv_kernels_.push_back(std::move(kernel));
  const QConvKernel* k = qconv_kernels_.back().get();
  if (rin >= 0) {
    add_step(node, this->node(node).op, {xin, rin}, {out}, [k, xin, rin, out](RunContext& f) {
      k->run_residual(f.bytes(xin), f.bytes(rin), f.bytes(out), f.workspace(), f.pool());
    });
    return;
  }
  add_step(node, this->node(node).op, {xin}, {out},
           [k, xin, out](RunContext& f) { k->run(f.bytes(xin), f.bytes(out), f.workspace(), f.pool()); });
}

// Any op without a SIMD kernel: the reference kernel on NCHW tensors.
void Lowering::lower_with_reference(int i) {
  const Node& n = node(i);
  std::vector<TensorId> in;
  for (TensorId t : n.inputs) in.push_back(in_layout(t, Layout::NCHW, i));
  for (TensorId t : n.outputs) set_layout(t, Layout::NCHW);
  const reference::KernelFn fn = reference::kernel_for(n.op);
  set_detail(i, "reference kernel");
  // Views are built at run time, in the context's vectors (sized for the widest node).
  reference_inputs = std::max(reference_inputs, in.size());
  reference_outputs = std::max(reference_outputs, n.outputs.size());
  const std::vector<TensorId> outs = n.outputs;
  add_step(i, n.op, in, outs, [this, &n, fn, in, outs](RunContext& f) {
    const std::span views_in(f.ref_inputs.data(), in.size());
    const std::span views_out(f.ref_outputs.data(), outs.size());
    for (size_t k = 0; k < in.size(); ++k) views_in[k] = {f.ptr(in[k]), &shape(in[k]), &lowered.tensor(in[k])};
    for (size_t k = 0; k < outs.size(); ++k) views_out[k] = {f.ptr(outs[k]), &shape(outs[k]), &lowered.tensor(outs[k])};
    fn(reference::KernelArgs{&n, views_in, views_out});
  });
}

size_t Lowering::workspace_bytes() const {
  size_t ws = std::max<size_t>(64, step_workspace_);
  for (const auto& k : conv_kernels_) ws = std::max(ws, k->workspace_bytes());
  for (const auto& k : qconv_kernels_) ws = std::max(ws, k->workspace_bytes());
  return ws;
}

void Lowering::plan_memory() {
  plan_ = kiln::plan_memory(
      lowered, [&](TensorId t) {
        return static_cast<size_t>(element_count(lowered.shape(t))) * dtype_size(lowered.tensor(t).dtype);
      });
}

// ---- RunContext ---------------------------------------------------------------------

RunContext::RunContext(const Lowering& l)
    : times(l.graph().nodes.size(), 0.0),
      ref_inputs(l.reference_inputs),
      ref_outputs(l.reference_outputs),
      l_(l),
      arena_(allocate_aligned(l.plan().arena_bytes)),
      workspace_(allocate_aligned(l.workspace_bytes())),
      pool_(l.threads()) {}

float* RunContext::ptr(TensorId t) const {
  const TensorInfo& info = l_.lowered.tensor(t);
  if (info.constant) return const_cast<float*>(info.constant->floats());
  return reinterpret_cast<float*>(arena_.get() + l_.plan().offsets[static_cast<size_t>(t)]);
}

// ---- the executable -----------------------------------------------------------------

namespace {

constexpr auto kLowerings = lowering_table<Lowering>();

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : l_(graph, options), contexts_(make_contexts(options)) {}

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    const Graph& g = l_.graph();
    auto context = contexts_.acquire();
    RunContext& f = *context;
    for (size_t i = 0; i < g.inputs.size(); ++i) std::memcpy(f.ptr(g.inputs[i]), inputs[i], bytes(g.inputs[i]));
    std::fill(f.times.begin(), f.times.end(), 0.0);
    clear_upper_vector_state();
    for (const Step& s : l_.steps) {
      const auto t0 = std::chrono::steady_clock::now();
      s.fn(f);
      f.times[static_cast<size_t>(s.node)] +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    for (size_t i = 0; i < g.outputs.size(); ++i)
      std::memcpy(outputs[i], f.ptr(final_outputs_[i]), bytes(g.outputs[i]));
    f.pool().release_workers();
    last_times_.store(f.times);
  }

  std::vector<double> node_times_ms() const override { return last_times_.load(); }

  MemoryStats memory() const override {
    MemoryStats s;
    // Per run context; concurrent runs each hold one.
    s.arena_bytes = l_.plan().arena_bytes + l_.workspace_bytes();
    s.naive_bytes = l_.plan().naive_bytes;
    s.weights_bytes = l_.weight_bytes;
    return s;
  }

  std::string node_detail(size_t i) const override { return i < l_.details.size() ? l_.details[i] : std::string(); }

 private:
  size_t bytes(TensorId t) const {
    return static_cast<size_t>(element_count(l_.shape(t))) * dtype_size(l_.lowered.tensor(t).dtype);
  }

  // Lowers the graph (filling l_), then makes the pool whose contexts run it.
  ContextPool<RunContext> make_contexts(const BackendOptions& options) {
    const Graph& g = l_.graph();
    plan_chains(l_);
    lower_graph(l_, kLowerings);
    l_.release_prepare_pool();
    for (TensorId t : g.outputs)
      final_outputs_.push_back(l_.in_layout(t, Layout::NCHW, static_cast<int>(g.nodes.size()) - 1));
    l_.lowered.outputs = final_outputs_;
    l_.plan_memory();
    last_times_.resize(g.nodes.size());
    const size_t contexts = contexts_within_limit(l_.weight_bytes, l_.plan().arena_bytes + l_.workspace_bytes(),
                                                  options.memory_limit,
                                                  static_cast<size_t>(options.max_concurrent_runs), "backend cpu");
    return ContextPool<RunContext>([this] { return std::make_unique<RunContext>(l_); }, contexts);
  }

  Lowering l_;
  std::vector<TensorId> final_outputs_;
  LastRunTimes last_times_;
  ContextPool<RunContext> contexts_;
};

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  std::string description() const override {
    return std::string("float32 SIMD (best here: ") + isa_name(best_isa()) +
           "), NHWC, per-layer convolution algorithms, threads";
  }
  bool supports(const Graph&, const Node&) const override { return true; }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    // The integer kernels read uint8 activations.
    const bool int8_activations = std::any_of(graph->tensors.begin(), graph->tensors.end(), [](const TensorInfo& t) {
      return t.dtype == DataType::Int8 && !t.is_constant();
    });
    if (int8_activations) {
      auto shifted = std::make_shared<Graph>(*graph);
      activations_to_uint8(*shifted);
      graph = std::move(shifted);
    }
    return std::make_unique<CpuExecutable>(std::move(graph), options);
  }
  std::vector<std::string> algorithm_names() const override { return cpu::algorithm_names(); }
  std::vector<std::string> isa_levels() const override {
    std::vector<std::string> names;
    for (Isa isa : supported_isas()) names.emplace_back(isa_name(isa));
    return names;
  }
  bool supports_portable_determinism() const override { return true; }
};

}  // namespace
}  // namespace kiln::cpu

namespace kiln {
void register_cpu_backend(BackendRegistry& registry) {
  registry.add("cpu", [] { return std::make_unique<cpu::CpuBackend>(); });
}
}  // namespace kiln
