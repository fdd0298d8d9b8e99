#include <array>
#include <chrono>
#include <cstring>
#include <new>

#include "engine/core/op_info.hpp"
#include "engine/runtime/backend_registry.hpp"
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

namespace {

class ReferenceExecutable final : public Executable {
 public:
  ReferenceExecutable(std::shared_ptr<const Graph> graph) : graph_(std::move(graph)) {
    const Graph& g = *graph_;
    plan_ = plan_memory_dense(g);
    arena_ = allocate_aligned(plan_.arena_bytes);

    // Bind every node's pointers now so that run() only calls kernels.
    size_t n_in = 0, n_out = 0;
    for (const Node& n : g.nodes) {
      n_in += n.inputs.size();
      n_out += n.outputs.size();
    }
    in_views_.reserve(n_in);
    out_views_.reserve(n_out);
    for (const Node& n : g.nodes) {
      Bound b;
      b.fn = kernel_for(n.op);
      b.node = &n;
      b.first_in = in_views_.size();
      for (TensorId t : n.inputs) in_views_.push_back({address(t), &g.shape(t), &g.tensor(t)});
      b.first_out = out_views_.size();
      for (TensorId t : n.outputs) out_views_.push_back({const_cast<float*>(address(t)), &g.shape(t), &g.tensor(t)});
      bound_.push_back(b);
    }
    times_.assign(g.nodes.size(), 0.0);
  }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    const Graph& g = *graph_;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      std::memcpy(const_cast<float*>(address(g.inputs[i])), inputs[i], bytes(g.inputs[i]));
    for (size_t i = 0; i < bound_.size(); ++i) {
      const Bound& b = bound_[i];
      const auto start = std::chrono::steady_clock::now();
      b.fn(KernelArgs{b.node, std::span(in_views_).subspan(b.first_in, b.node->inputs.size()),
                      std::span(out_views_).subspan(b.first_out, b.node->outputs.size())});
      times_[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) std::memcpy(outputs[i], address(g.outputs[i]), bytes(g.outputs[i]));
  }

  std::span<const double> node_times_ms() const override { return times_; }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes;
    s.naive_bytes = plan_.naive_bytes;
    for (const auto& t : graph_->tensors)
      if (t.constant) s.weights_bytes += t.constant->size_bytes();
    return s;
  }

 private:
  struct Bound {
    KernelFn fn;
    const Node* node;
    size_t first_in, first_out;
  };

  const float* address(TensorId t) const {
    const TensorInfo& info = graph_->tensor(t);
    if (info.constant) return info.constant->floats();
    return reinterpret_cast<const float*>(arena_.get() + plan_.offsets.at(t));
  }
  size_t bytes(TensorId t) const {
    return static_cast<size_t>(element_count(graph_->shape(t))) * dtype_size(graph_->tensor(t).dtype);
  }

  std::shared_ptr<const Graph> graph_;
  MemoryPlan plan_;
  AlignedBytes arena_;
  std::vector<InputView> in_views_;
  std::vector<OutputView> out_views_;
  std::vector<Bound> bound_;
  std::vector<double> times_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::string description() const override { return "plain float32 loops: the oracle for every other backend"; }
  bool supports(const Graph&, const Node&) const override { return true; }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions&) override {
    return std::make_unique<ReferenceExecutable>(std::move(graph));
  }
};

}  // namespace
}  // namespace reference

void register_reference_backend(BackendRegistry& registry) {
  registry.add("reference", [] { return std::make_unique<reference::ReferenceBackend>(); });
}

}  // namespace kiln
