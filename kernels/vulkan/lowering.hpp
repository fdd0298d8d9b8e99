#pragma once
// How the Vulkan backend turns a graph into dispatches. The executable
// (vulkan_backend.cpp) walks the nodes in order and calls the lowering of
// each node's family through a table (engine/runtime/lowering.hpp, ops/ops.hpp); a lowering adds one or
// more dispatches (a shader, its specialization constants, the tensors bound
// to its storage buffers) and may take following nodes into them (a residual
// Add, the 1x1 after a depthwise). The executable then plans the memory and
// records every dispatch once into a command buffer.
#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/core/strided_view.hpp"
#include "engine/runtime/backend.hpp"
#include "engine/runtime/lowering.hpp"
#include "kernels/vulkan/context.hpp"
#include "kernels/vulkan/conv_algorithms.hpp"
#include "kernels/vulkan/pipelines.hpp"
#include "kernels/vulkan/shaders/spec_ids.h"

namespace kiln::vk {

inline constexpr uint32_t kLocal = 64;  // threads per workgroup of the 1-D shaders
inline constexpr TensorId kNone = -1;   // an unused binding (bound to a dummy range)

// One dispatch before recording.
struct Step {
  int node = 0;  // the graph node it is timed under
  Shader shader = Shader::Copy;
  Spec spec;
  std::vector<TensorId> bind;  // binding i -> tensor (0 is the output)
  std::array<uint32_t, 3> groups{1, 1, 1};
  bool skip_if_aliased = false;  // a plain copy whose source and destination share bytes
};

// Workgroups for `count` threads of `local` each, spread over x and y
// (x is limited to 65535 groups).
std::array<uint32_t, 3> groups_1d(int64_t count, uint32_t local = kLocal);

// `values` (one per axis of a rank-r index space) right-aligned into
// kMaxRank (8) slots, the rest `fill`: the layout of the 1-D shaders'
// per-axis constants.
std::array<int64_t, kMaxRank> right_aligned(std::span<const int64_t> values, int64_t fill);

// The device resources a lowering may need beyond its dispatches: tuning
// times candidate convolutions on the device.
struct DeviceAccess {
  std::shared_ptr<Context> ctx;
  Pipelines* pipelines = nullptr;
  const Buffer* weights = nullptr;
  const std::vector<VkDeviceSize>* weight_offsets = nullptr;  // per tensor; constants only
  VkCommandPool command_pool = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  size_t element_bytes = 4;  // 2 with float16 storage
};

class Lowering : public LoweringBase {
 public:
  Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options, DeviceAccess device);

  // ---- what a lowering reads
  const Shape& shape(TensorId t) const { return graph_->shape(t); }
  ConvSelector& selector() { return selector_; }
  const DeviceAccess& device() const { return device_; }
  // Bytes of a tensor on the device.
  size_t bytes(TensorId t) const;

  // ---- what a lowering does
  void add_step(int node, Shader shader, Spec spec, std::vector<TensorId> bind, std::array<uint32_t, 3> groups,
                bool skip_if_aliased = false);
  // A strided copy (copy.comp) of `src` of tensor `in` into `dst` of tensor `out`; no dispatch when empty.
  void add_copy(int node, const StridedView& src, TensorId in, const StridedView& dst, TensorId out,
                bool skip_if_aliased = false);

  // ---- what the executable reads back (and LoweringBase::lowered, ::details)
  std::vector<Step> steps;
  std::vector<int> fused_pw;  // per depthwise node: the 1x1 node fused into it, or -1 (ops/conv.cpp)

 private:
  DeviceAccess device_;
  ConvSelector selector_;
};

}  // namespace kiln::vk
