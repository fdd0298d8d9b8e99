#include "kernels/vulkan/weights.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/runtime/memory_planner.hpp"
#include "kernels/vulkan/half.hpp"
#include "kiln/error.hpp"

namespace kiln::vk {

Weights::Weights(const std::shared_ptr<Context>& ctx, const Graph& g, bool fp16, size_t align, VkCommandPool pool,
                 VkFence fence) {
  const size_t element_bytes = fp16 ? sizeof(uint16_t) : sizeof(float);
  offsets_.assign(g.tensors.size(), 0);
  std::vector<char> used(g.tensors.size(), 0);
  for (const Node& n : g.nodes)
    for (TensorId t : n.inputs)
      if (g.tensor(t).is_constant()) used[static_cast<size_t>(t)] = 1;
  size_t total = align;  // the dummy range
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!used[t]) continue;
    offsets_[t] = total;
    const size_t bytes = static_cast<size_t>(element_count(g.tensors[t].shape)) * element_bytes;
    total += align_up(std::max<size_t>(bytes, 4), align);
  }
  bytes_ = total;
  buffer_ =
      Buffer(ctx, total, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, false, "the weights");
  Buffer staging(ctx, total, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true, "uploading the weights");
  auto* dst = static_cast<std::byte*>(staging.mapped);
  std::memset(dst, 0, total);
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!used[t]) continue;
    const ConstantData& c = *g.tensors[t].constant;
    if (!fp16) {
      std::memcpy(dst + offsets_[t], c.bytes(), c.size_bytes());
      continue;
    }
    // Every constant is float32 (the validator refuses other types). A finite
    // value beyond float16's range would become inf: refuse rather than run wrong.
    const size_t n = c.size_bytes() / sizeof(float);
    const float* v = c.floats();
    for (size_t k = 0; k < n; ++k)
      if (std::isfinite(v[k]) && std::fabs(v[k]) > kHalfMax)
        throw Error(ErrorCode::Unsupported,
                    fmt::format("constant '{}' holds {} (element {}), beyond float16's range (+-{}); run without "
                                "--fp16-storage",
                                g.tensors[t].name, v[k], k, kHalfMax));
    floats_to_halves(v, reinterpret_cast<uint16_t*>(dst + offsets_[t]), n);
  }
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(vkAllocateCommandBuffers(ctx->device, &ai, &cb), "allocating a command buffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cb, &bi);
  VkBufferCopy region{0, 0, total};
  vkCmdCopyBuffer(cb, staging.buffer, buffer_.buffer, 1, &region);
  check(vkEndCommandBuffer(cb), "recording the weight upload");
  ctx->submit_and_wait(cb, fence, "uploading the weights");
  vkFreeCommandBuffers(ctx->device, pool, 1, &cb);
}

}  // namespace kiln::vk
