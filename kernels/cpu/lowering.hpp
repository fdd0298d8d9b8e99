#pragma once
// How the CPU backend turns a graph into steps. The executable
// (cpu_backend.cpp) walks the nodes in order and calls the lowering of each
// node's family through a table (engine/runtime/lowering.hpp, ops/ops.hpp);
// a lowering picks a memory
// layout for its outputs (NHWC wherever the fast kernels run, NCHW
// elsewhere), asks for its inputs in the layout it wants (a conversion step is
// inserted where a reader wants the other one), binds a SIMD kernel, a
// convolution algorithm or — for ops without one — the reference kernel, and
// may take following nodes into its step (a residual Add, a fused chain).
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/runtime/backend.hpp"
#include "engine/runtime/lowering.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/gemm_driver.hpp"
#include "kernels/cpu/conv/int8_conv.hpp"
#include "kernels/cpu/conv/select.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::cpu {

enum class Layout : uint8_t { NCHW, NHWC };

// NCHW and NHWC hold the same bytes when there is one channel or one pixel.
inline bool layouts_coincide(const Shape& s) { return s.size() != 4 || s[1] == 1 || s[2] * s[3] == 1; }

inline Activation to_activation(const fb::FusedActivation& a) {
  return {static_cast<uint8_t>(a.kind()), a.alpha(), a.beta()};
}

class Lowering;

// What one run writes: the activation arena, the kernels' scratch, the worker
// threads and the node times. Concurrent runs of one executable each lease
// their own (engine/runtime/context_pool.hpp); the steps, the memory plan and
// the packed weights they read are built once and shared.
class RunContext {
 public:
  explicit RunContext(const Lowering& l);

  float* ptr(TensorId t) const;
  uint8_t* bytes(TensorId t) const { return reinterpret_cast<uint8_t*>(ptr(t)); }
  float* workspace() const { return reinterpret_cast<float*>(workspace_.get()); }
  ThreadPool& pool() { return pool_; }
  // Calls task(begin, len) for chunks of n elements of an elementwise step, on
  // the threads, or inline for a single chunk (waking the workers costs more
  // than a small tensor takes). Chunks are whole cache lines, so that threads never share one.
  template <class Task>
  void elementwise_chunks(size_t n, Task&& task) {
    constexpr size_t kChunk = 16384;
    const size_t chunks = (n + kChunk - 1) / kChunk;
    auto chunk = [&](size_t c) { task(c * kChunk, std::min(kChunk, n - c * kChunk)); };
    if (chunks <= 1) {
      if (n > 0) chunk(0);
    } else {
      pool_.parallel_for(chunks, chunk);
    }
  }


  std::vector<double> times;  // per graph node, this run
  // The reference kernels' argument views, sized for the widest node.
  std::vector<reference::InputView> ref_inputs;
  std::vector<reference::OutputView> ref_outputs;

 private:
  const Lowering& l_;
  AlignedBytes arena_;
  AlignedBytes workspace_;
  ThreadPool pool_;
};

// One planned step: the graph node it is timed under and what it runs.
struct Step {
  int node;
  std::function<void(RunContext&)> fn;
};

// Expand(1x1) -> depthwise -> project(1x1) chains chosen to run fused
// (ops/conv.cpp plans them before lowering).
struct Chain {
  ChainLayers layers;
  int expand = -1, dw = -1, project = -1;  // node indices
  ChainCost cost;
  std::optional<ConvSelector::ChainVerdict> verdict;  // tune mode
};

// The state lowerings build and the helpers they share. Steps read tensor
// addresses through the RunContext they are given, after the executable has
// planned the memory; what they capture of the lowering is read-only by then.
class Lowering : public LoweringBase {
 public:
  Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options);

  // ---- what a lowering reads
  // Stable while lowering adds tensors: the graph's own for its tensors.
  const Shape& shape(TensorId t) const {
    return static_cast<size_t>(t) < graph_->tensors.size() ? graph_->shape(t) : lowered.shape(t);
  }
  bool is_const(TensorId t) const { return lowered.tensor(t).is_constant(); }
  Layout layout(TensorId t) const { return layouts_[static_cast<size_t>(t)]; }
  const SimdKernels& simd() const { return *simd_; }
  const Int8Kernels& int8() const { return *int8_; }
  Isa isa() const { return isa_; }
  int threads() const { return threads_; }
  ConvSelector& selector() { return selector_; }
  // Threads for preparing weights while the session is created (packing and
  // transforms split over the session's thread count); null after lowering.
  ThreadPool* prepare_pool() { return prepare_pool_.get(); }
  void release_prepare_pool() { prepare_pool_.reset(); }

  // ---- what a lowering does
  // `t` in layout `want`, converted by an inserted step (once per tensor and layout) if needed.
  TensorId in_layout(TensorId t, Layout want, int node);
  void set_layout(TensorId t, Layout l) { layouts_[static_cast<size_t>(t)] = l; }
  void add_step(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out,
                std::function<void(RunContext&)> fn);
  // A step needs `bytes` of scratch in RunContext::workspace() (shared by all steps).
  void need_workspace(size_t bytes) { step_workspace_ = std::max(step_workspace_, bytes); }
  // Keeps a prepared convolution (and counts its weights) for the session's life.
  const ConvKernel* keep(std::unique_ptr<ConvKernel> kernel);
  // Keeps packed weights of a non-convolution op.
  const PackedB& keep(PackedB packed);
  void add_conv_step(int node, const ConvKernel* kernel, TensorId xin, TensorId rin, TensorId out);
  // Keeps a prepared quantized convolution and adds its step (uint8 NHWC in and out).
  // With rin >= 0 the kernel takes a residual Add (QConvKernel::run_residual).
  void add_qconv_step(int node, std::unique_ptr<QConvKernel> kernel, TensorId xin, TensorId out, TensorId rin = -1);
  // The node on the reference kernel, with NCHW inputs and outputs.
  void lower_with_reference(int node);

  // ---- what the executable reads back (and LoweringBase::lowered, ::details)
  std::vector<Step> steps;
  std::vector<Chain> chains;
  std::vector<int> chain_of;  // per node: its chain, or -1
  size_t weight_bytes = 0;    // packed and transformed weights held
  size_t workspace_bytes() const;
  // The widest node run on a reference kernel (RunContext sizes its views by them).
  size_t reference_inputs = 0, reference_outputs = 0;
  // Places the lowered graph's tensors (called once, after lowering).
  void plan_memory();
  const MemoryPlan& plan() const { return plan_; }

 private:
  Isa isa_;
  const SimdKernels* simd_;
  const Int8Kernels* int8_;
  int threads_;
  std::unique_ptr<ThreadPool> prepare_pool_;
  ConvSelector selector_;
  std::vector<Layout> layouts_;
  std::map<std::pair<TensorId, Layout>, TensorId> converted_;
  std::vector<std::unique_ptr<ConvKernel>> conv_kernels_;
  std::vector<std::unique_ptr<QConvKernel>> qconv_kernels_;
  std::vector<std::unique_ptr<PackedB>> packed_;
  size_t step_workspace_ = 0;
  MemoryPlan plan_;
};

}  // namespace kiln::cpu
