#pragma once
// A compiled model's constants on the device: every constant tensor a node
// reads, in one device-local buffer at aligned offsets (float16 with float16
// storage, converted once here), uploaded once through a staging buffer.
// Offset 0 holds a dummy range that unused bindings point at.
#include <memory>
#include <vector>

#include "engine/core/graph.hpp"
#include "kernels/vulkan/context.hpp"

namespace kiln::vk {

class Weights {
 public:
  Weights() = default;
  // Throws kiln::Error for a constant beyond float16's range with `fp16`.
  Weights(const std::shared_ptr<Context>& ctx, const Graph& graph, bool fp16, size_t align, VkCommandPool pool,
          VkFence fence);
  const Buffer& buffer() const { return buffer_; }
  VkDeviceSize offset(TensorId t) const { return offsets_[static_cast<size_t>(t)]; }
  const std::vector<VkDeviceSize>& offsets() const { return offsets_; }
  size_t bytes() const { return bytes_; }

 private:
  Buffer buffer_;
  std::vector<VkDeviceSize> offsets_;  // per tensor; constants only
  size_t bytes_ = 0;
};

}  // namespace kiln::vk
