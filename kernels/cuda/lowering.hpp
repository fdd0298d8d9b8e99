#pragma once
// How the CUDA backend turns a graph into steps. The executable
// (cuda_backend.cpp) walks the nodes in order and calls the lowering of each
// node's family through a table (engine/runtime/lowering.hpp, ops/ops.hpp); a lowering adds a step (a
// closure enqueuing kernels, cuBLAS or cuDNN calls on the model's stream),
// registers the host constants it needs (in the layout its kernels want) with
// the weight store, and may take a following node into its step (the FCM
// fused pairs). Layout: NCHW throughout, as the graph and cuDNN use it.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/runtime/backend.hpp"
#include "engine/runtime/lowering.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cuda/context.hpp"
#include "kernels/cuda/conv/conv_algorithm.hpp"
#include "kernels/cuda/launch.hpp"

namespace kiln::cuda {

inline Act to_act(const fb::FusedActivation& a) { return {static_cast<ActKind>(a.kind()), a.alpha(), a.beta()}; }

// One planned step: the graph node it is timed under, a name for errors, what it enqueues.
struct Step {
  int node;
  std::string what;
  std::function<void(cudaStream_t)> fn;
};

// A depthwise convolution fused with its pointwise neighbour (FCM).
struct FusedPair {
  bool dw_first;  // dw->pw (true) or pw->dw
  int first, second;
  FcmDwPwTile dw_pw;
  FcmPwDwTile pw_dw;
  std::string why;
};

class Lowering : public LoweringBase {
 public:
  Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options);

  // ---- what a lowering reads
  const Shape& shape(TensorId t) const { return graph_->shape(t); }
  const float* host(TensorId t) const { return graph_->tensor(t).constant->floats(); }
  GpuContext& ctx() { return ctx_; }
  ConvSelector& selector() { return selector_; }
  WeightStore& weights() { return weights_; }
  const WeightStore& weights() const { return weights_; }

  // ---- what a lowering does
  void add_step(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out,
                std::function<void(cudaStream_t)> fn);
  // One step for the node as it stands (its own inputs and outputs); its
  // constant inputs are uploaded as they are, for ptr().
  void add_node_step(int node, std::function<void(cudaStream_t)> fn);
  const ConvKernel* keep(std::unique_ptr<ConvKernel> kernel);

  // ---- when steps run: device addresses (constants in the weight store, the rest in the arena)
  float* ptr(TensorId t) const;
  void* workspace() const { return workspace_.get(); }

  // ---- what the executable reads back (and LoweringBase::lowered, ::details)
  std::vector<Step> steps;
  std::vector<FusedPair> pairs;  // ops/conv.cpp
  std::vector<int> pair_of;      // per node: index in pairs, or -1
  // Uploads the weights and places the lowered graph's tensors (once, after lowering).
  void finish();
  const MemoryPlan& plan() const { return plan_; }
  size_t device_bytes(TensorId t) const;
  size_t workspace_bytes() const { return workspace_.bytes(); }

 private:
  GpuContext ctx_;  // before the device buffers and kernels: they are freed while it lives
  ConvSelector selector_;
  std::vector<std::unique_ptr<ConvKernel>> conv_kernels_;
  WeightStore weights_;
  std::map<TensorId, WeightStore::Handle> constant_handles_;
  MemoryPlan plan_;
  DeviceBuffer arena_, workspace_;
};

}  // namespace kiln::cuda
