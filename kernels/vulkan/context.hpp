#pragma once
// The Vulkan device a session runs on: instance, physical device picked by
// --device, one compute queue, memory types, limits and timestamp support;
// plus RAII buffers. Contexts are shared per device index within a process
// (creating a device is slow on some drivers), and kept alive by every
// executable that uses them.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/runtime/backend.hpp"

namespace kiln::vk {

// "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc.
const char* result_name(VkResult r);
// Throws kiln::Error for a failed call, naming `what` and suggesting --backend cpu.
[[noreturn]] void fail(VkResult r, const std::string& what);
inline void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) fail(r, what);
}

// What the device can do, for the convolution cost estimates (orders of
// magnitude by device type; only ratios between algorithms matter).
struct DeviceModel {
  double gflops = 1000;
  double bandwidth_gbs = 100;
  double launch_ms = 0.005;  // fixed cost per dispatch
  double element_bytes = 4;  // per stored element: 2 with --fp16-storage
};

class Context {
 public:
  // The context for device `index` (shared within the process). Throws
  // kiln::Error when there is no loader/driver/device or the index is out of range.
  static std::shared_ptr<Context> get(int index);
  // Every Vulkan device of this machine; throws kiln::Error when there is none.
  static std::vector<DeviceInfo> list();

  Context(VkInstance instance, VkPhysicalDevice phys, int index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // A memory type allowed by `type_bits` with all of `want`; -1 if none.
  int find_memory(uint32_t type_bits, VkMemoryPropertyFlags want) const;
  // Submits one command buffer and waits for it (with a timeout that throws).
  void submit_and_wait(VkCommandBuffer cb, VkFence fence, const char* what) const;

  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice phys = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceMemoryProperties memory{};
  int index = 0;
  std::string name;       // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string signature;  // name + driver version: the tuning-cache key
  bool timestamps = false;
  // VkPhysicalDevice16BitStorageFeatures::storageBuffer16BitAccess: float16
  // values in storage buffers (--fp16-storage). Enabled at device creation
  // whenever the device has it, so one shared device serves both storage modes.
  bool storage_buffer_16bit = false;
  double timestamp_period_ns = 1;
  uint64_t timestamp_mask = ~uint64_t{0};
  DeviceModel model;
  // vkQueueSubmit needs the queue externally synchronised; sessions share it.
  mutable std::mutex queue_mutex;
};

// Throws kiln::Error(Unsupported) naming the device and the missing feature
// when `supported` is false: --fp16-storage needs storageBuffer16BitAccess.
void require_fp16_storage(const std::string& device_name, int device_index, bool supported);

// A VkBuffer with its own memory: device-local (the arena, the weights) or
// host-visible, coherent and mapped (staging).
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::shared_ptr<Context> ctx, VkDeviceSize size, VkBufferUsageFlags usage, bool host_visible,
         const std::string& what);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;  // host-visible buffers only

 private:
  void release();
  std::shared_ptr<Context> ctx_;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
};

// How long run() waits for the device before it reports a hang.
inline constexpr uint64_t kFenceTimeoutNs = 300ull * 1000 * 1000 * 1000;

}  // namespace kiln::vk
