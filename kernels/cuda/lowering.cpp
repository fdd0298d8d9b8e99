#include "kernels/cuda/lowering.hpp"

#include "engine/core/op_info.hpp"

namespace kiln::cuda {

Lowering::Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options)
    : LoweringBase(std::move(graph)), ctx_(options.gpu.device, options.deterministic != Determinism::Off), selector_(options, ctx_) {
  set_progress(options.progress);
}

void Lowering::add_step(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out,
                        std::function<void(cudaStream_t)> fn) {
  steps.push_back({node, this->node(node).name + " (" + std::string(op_name(op)) + ")", std::move(fn)});
  add_lowered_node(node, op, std::move(in), std::move(out));
}

void Lowering::add_node_step(int node, std::function<void(cudaStream_t)> fn) {
  const Node& n = this->node(node);
  for (TensorId t : n.inputs)
    if (is_const(t) && !constant_handles_.count(t))
      constant_handles_[t] = weights_.add(host(t), static_cast<size_t>(element_count(shape(t))));
  add_step(node, n.op, n.inputs, n.outputs, std::move(fn));
}

const ConvKernel* Lowering::keep(std::unique_ptr<ConvKernel> kernel) {
  conv_kernels_.push_back(std::move(kernel));
  return conv_kernels_.back().get();
}

float* Lowering::ptr(TensorId t) const {
  if (is_const(t)) return const_cast<float*>(weights_.ptr(constant_handles_.at(t)));
  const int64_t off = plan_.offsets.at(static_cast<size_t>(t));
  if (off < 0) throw Error(ErrorCode::Internal, "cuda backend: tensor without arena storage");
  return reinterpret_cast<float*>(static_cast<std::byte*>(arena_.get()) + off);
}

size_t Lowering::device_bytes(TensorId t) const {
  return static_cast<size_t>(element_count(lowered.shape(t))) * sizeof(float);
}

void Lowering::finish() {
  weights_.upload(ctx_.stream());
  plan_ = plan_memory(
      lowered, [&](TensorId t) { return device_bytes(t); }, PlannerOptions{256, true, true});
  arena_ = DeviceBuffer(plan_.arena_bytes);
  size_t ws = 256;
  for (const auto& k : conv_kernels_) ws = std::max(ws, k->workspace_bytes());
  workspace_ = DeviceBuffer(ws);
}

}  // namespace kiln::cuda
