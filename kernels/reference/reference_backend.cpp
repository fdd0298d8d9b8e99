#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <new>

#include "engine/core/op_info.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "engine/runtime/context_pool.hpp"
#include "engine/runtime/memory_budget.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln {
namespace reference {

namespace {
using O = OpType;

struct KernelRow {
  OpType op;
  KernelFn fn;
};

// One row per operator, in OpType order; the kernels live in the file of
// their family (kernels.hpp).
constexpr std::array<KernelRow, kOpCount> kKernels = {{
    {O::Conv, conv},
    {O::BatchNormalization, batch_normalization},
    {O::Relu, activation},
    {O::Clip, activation},
    {O::LeakyRelu, activation},
    {O::Sigmoid, activation},
    {O::HardSigmoid, activation},
    {O::HardSwish, activation},
    {O::Tanh, activation},
    {O::Add, binary},
    {O::Sub, binary},
    {O::Mul, binary},
    {O::Div, binary},
    {O::MaxPool, max_pool},
    {O::AveragePool, average_pool},
    {O::GlobalAveragePool, global_average_pool},
    {O::GlobalMaxPool, global_max_pool},
    {O::Gemm, gemm},
    {O::MatMul, matmul},
    {O::Flatten, copy},
    {O::Reshape, copy},
    {O::Transpose, transpose},
    {O::Concat, concat},
    {O::Split, split},
    {O::Slice, slice},
    {O::Pad, pad},
    {O::ReduceMean, reduce_mean},
    {O::Squeeze, copy},
    {O::Unsqueeze, copy},
    {O::Softmax, softmax},
    {O::Identity, copy},
    {O::Dropout, copy},
    {O::QuantizeLinear, quantize_linear},
    {O::DequantizeLinear, dequantize_linear},
}};
static_assert(covers_every_op_in_order(kKernels), "every operator needs a reference kernel, in OpType order");
}  // namespace

KernelFn kernel_for(OpType op) {
  const auto i = static_cast<size_t>(op);
  if (i >= kKernels.size())
    throw Error(ErrorCode::Internal, "reference backend: no kernel for op code " + std::to_string(i));
  return kKernels[i].fn;
}

size_t accumulator_scratch(const Graph& graph, const Node& node) {
  switch (node.op) {
    case OpType::Conv: {  // one output plane: [N, K, spatial...]
      const Shape& y = graph.shape(node.outputs[0]);
      const int64_t planes = y.size() >= 2 ? y[0] * y[1] : 1;
      return planes > 0 ? static_cast<size_t>(element_count(y) / planes) : 0;
    }
    case OpType::Gemm: {  // one output row
      const Shape& y = graph.shape(node.outputs[0]);
      return y.empty() ? 1 : static_cast<size_t>(y.back());
    }
    case OpType::MatMul: {
      const Shape& b = graph.shape(node.inputs[1]);
      return b.size() == 1 ? 1 : static_cast<size_t>(b.back());
    }
    default:
      return 0;
  }
}

namespace {

// Doubles a run context holds for the float64 kernels' partial sums: the most any node needs.
size_t scratch_elements(const Graph& g, ReferencePrecision accumulation) {
  size_t most = 0;
  if (accumulation == ReferencePrecision::Float64)
    for (const Node& n : g.nodes) most = std::max(most, accumulator_scratch(g, n));
  return most;
}

class ReferenceExecutable final : public Executable {
 public:
  ReferenceExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(std::move(graph)),
        plan_(plan_memory_dense(*graph_)),
        accumulation_(options.reference.accumulation),
        scratch_elements_(scratch_elements(*graph_, accumulation_)),
        contexts_([this] { return std::make_unique<Context>(*graph_, plan_, scratch_elements_); },
                  // The weights are the model's own constants, counted by the session.
                  contexts_within_limit(0, plan_.arena_bytes + scratch_elements_ * sizeof(double),
                                        options.memory_limit, static_cast<size_t>(options.max_concurrent_runs),
                                        "backend reference")) {
    for (const Node& n : graph_->nodes) kernels_.push_back(kernel_for(n.op));
    last_times_.resize(graph_->nodes.size());
  }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    const Graph& g = *graph_;
    auto lease = contexts_.acquire();
    Context& c = *lease;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      std::memcpy(const_cast<float*>(c.address(g.inputs[i])), inputs[i], bytes(g.inputs[i]));
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      const auto start = std::chrono::steady_clock::now();
      kernels_[i](KernelArgs{&n, std::span(c.in_views).subspan(c.first_in[i], n.inputs.size()),
                             std::span(c.out_views).subspan(c.first_out[i], n.outputs.size()), accumulation_,
                             c.scratch});
      c.times[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) std::memcpy(outputs[i], c.address(g.outputs[i]), bytes(g.outputs[i]));
    last_times_.store(c.times);
  }

  std::vector<double> node_times_ms() const override { return last_times_.load(); }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes;
    s.naive_bytes = plan_.naive_bytes;
    for (const auto& t : graph_->tensors)
      if (t.constant) s.weights_bytes += t.constant->size_bytes();
    return s;
  }

 private:
  // What one run writes: its arena, and every node's views bound to it once
  // so that run() only calls kernels.
  struct Context {
    Context(const Graph& g, const MemoryPlan& p, size_t scratch_elements)
        : graph(&g), plan(p), arena(allocate_aligned(p.arena_bytes)), scratch(scratch_elements) {
      for (const Node& n : g.nodes) {
        first_in.push_back(in_views.size());
        for (TensorId t : n.inputs) in_views.push_back({address_in(g, t), &g.shape(t), &g.tensor(t)});
        first_out.push_back(out_views.size());
        for (TensorId t : n.outputs) out_views.push_back({const_cast<float*>(address_in(g, t)), &g.shape(t), &g.tensor(t)});
      }
      times.assign(g.nodes.size(), 0.0);
    }
    const float* address_in(const Graph& g, TensorId t) const {
      const TensorInfo& info = g.tensor(t);
      if (info.constant) return info.constant->floats();
      return reinterpret_cast<const float*>(arena.get() + plan.offsets.at(t));
    }
    const float* address(TensorId t) const { return address_in(*graph, t); }

    const Graph* graph;
    const MemoryPlan& plan;
    AlignedBytes arena;
    std::vector<InputView> in_views;
    std::vector<OutputView> out_views;
    std::vector<size_t> first_in, first_out;  // per node: its first view
    std::vector<double> scratch;  // KernelArgs::scratch (empty under Float32)
    std::vector<double> times;
  };

  size_t bytes(TensorId t) const {
    return static_cast<size_t>(element_count(graph_->shape(t))) * dtype_size(graph_->tensor(t).dtype);
  }

  std::shared_ptr<const Graph> graph_;
  MemoryPlan plan_;
  ReferencePrecision accumulation_;
  size_t scratch_elements_;
  std::vector<KernelFn> kernels_;
  LastRunTimes last_times_;
  ContextPool<Context> contexts_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::string description() const override {
    return "plain float32 loops (or float64 accumulation): the oracle for every other backend";
  }
  // Scalar code compiled with the base flags: one instruction stream on every CPU.
  bool supports_portable_determinism() const override { return true; }
  bool supports(const Graph&, const Node&) const override { return true; }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    return std::make_unique<ReferenceExecutable>(std::move(graph), options);
  }
};

}  // namespace
}  // namespace reference

void register_reference_backend(BackendRegistry& registry) {
  registry.add("reference", [] { return std::make_unique<reference::ReferenceBackend>(); });
}

}  // namespace kiln
