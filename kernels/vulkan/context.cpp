#include "kernels/vulkan/context.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "kiln/error.hpp"

namespace kiln::vk {

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
  }
}

void fail(VkResult r, const std::string& what) {
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error(ErrorCode::Unsupported, fmt::format("vulkan: out of {} memory ({}) while {}; use a smaller model or "
                                                    "--backend cpu",
                                                    r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host",
                                                    result_name(r), what));
  throw Error(ErrorCode::Internal,
              fmt::format("vulkan: {} failed with {} ({}); use --backend cpu", what, result_name(r), static_cast<int>(r)));
}

namespace {

constexpr const char* kNoDevice =
    "no Vulkan device found (is mesa-vulkan-drivers installed, or a GPU driver?)";

// The process's instance, created on first use (or the reason it could not be).
struct Instance {
  VkInstance handle = VK_NULL_HANDLE;
  std::vector<VkPhysicalDevice> devices;
  std::string error;
  ~Instance() {
    if (handle) vkDestroyInstance(handle, nullptr);
  }
};

Instance& vk_instance() {
  static Instance inst = [] {
    Instance i;
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "kiln";
    app.pEngineName = "kiln";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    const VkResult r = vkCreateInstance(&ci, nullptr, &i.handle);
    if (r != VK_SUCCESS) {
      i.handle = VK_NULL_HANDLE;
      i.error = fmt::format("{}: vkCreateInstance failed with {}; use --backend cpu", kNoDevice, result_name(r));
      return i;
    }
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(i.handle, &n, nullptr);
    i.devices.resize(n);
    if (n > 0) vkEnumeratePhysicalDevices(i.handle, &n, i.devices.data());
    if (n == 0) i.error = fmt::format("{}: the Vulkan loader lists no device; use --backend cpu", kNoDevice);
    return i;
  }();
  return inst;
}

std::string describe(VkPhysicalDevice d) {
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(d, &p);
  VkPhysicalDeviceMemoryProperties m;
  vkGetPhysicalDeviceMemoryProperties(d, &m);
  VkDeviceSize local = 0;
  for (uint32_t h = 0; h < m.memoryHeapCount; ++h)
    if (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) local = std::max(local, m.memoryHeaps[h].size);
  const char* type = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? "discrete GPU"
                     : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? "integrated GPU"
                     : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU            ? "CPU (software)"
                                                                              : "other";
  VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  if (p.apiVersion >= VK_API_VERSION_1_1) {
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    vkGetPhysicalDeviceFeatures2(d, &features);
  }
  return fmt::format("Vulkan {}.{}.{}, {}, {:.1f} GiB device-local, max storage buffer {} MiB, {}",
                     VK_VERSION_MAJOR(p.apiVersion), VK_VERSION_MINOR(p.apiVersion), VK_VERSION_PATCH(p.apiVersion), type,
                     static_cast<double>(local) / (1 << 30), p.limits.maxStorageBufferRange >> 20,
                     storage16.storageBuffer16BitAccess ? "float16 storage (--fp16-storage)" : "no float16 storage");
}

}  // namespace

std::vector<DeviceInfo> Context::list() {
  Instance& inst = vk_instance();
  if (!inst.error.empty()) throw Error(ErrorCode::Unsupported, inst.error);
  std::vector<DeviceInfo> out;
  for (size_t i = 0; i < inst.devices.size(); ++i) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(inst.devices[i], &p);
    out.push_back({static_cast<int>(i), p.deviceName, describe(inst.devices[i])});
  }
  return out;
}

std::shared_ptr<Context> Context::get(int index) {
  // The instance first: statics are destroyed in reverse order, and every
  // cached device must go before the instance does.
  Instance& inst = vk_instance();
  static std::mutex mu;
  static std::map<int, std::shared_ptr<Context>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(index); it != cache.end()) return it->second;
  if (!inst.error.empty()) throw Error(ErrorCode::Unsupported, inst.error);
  if (index < 0 || static_cast<size_t>(index) >= inst.devices.size()) {
    std::string names;
    for (const DeviceInfo& d : list()) names += fmt::format("{}{}: {}", names.empty() ? "" : ", ", d.index, d.name);
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("--device {} is out of range: this machine has {} Vulkan device{} ({}); see `kiln devices`, or use --backend cpu",
                            index, inst.devices.size(), inst.devices.size() == 1 ? "" : "s", names));
  }
  auto ctx = std::make_shared<Context>(inst.handle, inst.devices[static_cast<size_t>(index)], index);
  cache[index] = ctx;
  return ctx;
}

Context::Context(VkInstance inst, VkPhysicalDevice p, int i) : instance(inst), phys(p), index(i) {
  vkGetPhysicalDeviceProperties(phys, &props);
  vkGetPhysicalDeviceMemoryProperties(phys, &memory);
  name = props.deviceName;
  signature = fmt::format("{} (driver {:#x}, vendor {:#x})", name, props.driverVersion, props.vendorID);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> families(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(phys, &nq, families.data());
  int family = -1;
  for (uint32_t q = 0; q < nq; ++q)
    if (families[q].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      // Prefer a queue with timestamps.
      if (family < 0 || (families[q].timestampValidBits > 0 && families[static_cast<size_t>(family)].timestampValidBits == 0))
        family = static_cast<int>(q);
    }
  if (family < 0)
    throw Error(ErrorCode::Unsupported,
                fmt::format("Vulkan device {} ({}) has no compute queue, which Kiln needs; use --backend cpu", index, name));
  queue_family = static_cast<uint32_t>(family);
  const uint32_t valid_bits = families[queue_family].timestampValidBits;
  timestamps = valid_bits > 0 && props.limits.timestampPeriod > 0;
  timestamp_period_ns = props.limits.timestampPeriod;
  timestamp_mask = valid_bits >= 64 ? ~uint64_t{0} : ((uint64_t{1} << valid_bits) - 1);

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  // 16-bit storage is core in Vulkan 1.1 (the instance's version); older
  // devices are treated as lacking it.
  VkPhysicalDevice16BitStorageFeatures storage16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  if (props.apiVersion >= VK_API_VERSION_1_1) {
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    vkGetPhysicalDeviceFeatures2(phys, &features);
  }
  storage_buffer_16bit = storage16.storageBuffer16BitAccess == VK_TRUE;
  VkPhysicalDevice16BitStorageFeatures enable16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  enable16.storageBuffer16BitAccess = storage_buffer_16bit ? VK_TRUE : VK_FALSE;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  if (storage_buffer_16bit) dci.pNext = &enable16;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  check(vkCreateDevice(phys, &dci, nullptr, &device), "creating the Vulkan device");
  vkGetDeviceQueue(device, queue_family, 0, &queue);

  switch (props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: model = {20000, 1500, 0.004}; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: model = {1000, 60, 0.01}; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: model = {50, 15, 0.02}; break;
    default: model = {1000, 100, 0.01}; break;
  }
}

Context::~Context() {
  if (device) {
    vkDeviceWaitIdle(device);
    vkDestroyDevice(device, nullptr);
  }
}

void require_fp16_storage(const std::string& device_name, int device_index, bool supported) {
  if (supported) return;
  throw Error(ErrorCode::Unsupported,
              fmt::format("--fp16-storage needs float16 storage buffers, which Vulkan device {} ({}) lacks "
                          "(VkPhysicalDevice16BitStorageFeatures::storageBuffer16BitAccess); run without "
                          "--fp16-storage, or use --backend cpu",
                          device_index, device_name));
}

int Context::find_memory(uint32_t type_bits, VkMemoryPropertyFlags want) const {
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (memory.memoryTypes[i].propertyFlags & want) == want) return static_cast<int>(i);
  return -1;
}

void Context::submit_and_wait(VkCommandBuffer cb, VkFence fence, const char* what) const {
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  {
    std::lock_guard lock(queue_mutex);
    check(vkQueueSubmit(queue, 1, &si, fence), what);
  }
  const VkResult r = vkWaitForFences(device, 1, &fence, VK_TRUE, kFenceTimeoutNs);
  if (r == VK_TIMEOUT)
    throw Error(ErrorCode::Internal, fmt::format("vulkan: the device ({}) did not finish {} within {} s; it may be "
                                                 "hung; use --backend cpu",
                                                 name, what, kFenceTimeoutNs / 1000000000ull));
  check(r, what);
  check(vkResetFences(device, 1, &fence), "resetting a fence");
}

Buffer::Buffer(std::shared_ptr<Context> ctx, VkDeviceSize size_, VkBufferUsageFlags usage, bool host_visible,
               const std::string& what)
    : size(std::max<VkDeviceSize>(size_, 64)), ctx_(std::move(ctx)) {
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = usage;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(ctx_->device, &bci, nullptr, &buffer), ("creating the buffer for " + what).c_str());
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx_->device, buffer, &req);
  int type = -1;
  if (host_visible) {
    type = ctx_->find_memory(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0)
      type = ctx_->find_memory(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  } else {
    type = ctx_->find_memory(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) type = ctx_->find_memory(req.memoryTypeBits, 0);
  }
  if (type < 0) {
    release();
    throw Error(ErrorCode::Unsupported, fmt::format("Vulkan device {} has no {} memory type for {}; use --backend cpu",
                                                    ctx_->name, host_visible ? "host-visible coherent" : "usable", what));
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  const VkResult r = vkAllocateMemory(ctx_->device, &mai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    memory_ = VK_NULL_HANDLE;
    release();
    fail(r, fmt::format("allocating {:.1f} MiB for {} on {}", static_cast<double>(req.size) / (1 << 20), what, ctx_->name));
  }
  check(vkBindBufferMemory(ctx_->device, buffer, memory_, 0), "binding buffer memory");
  if (host_visible) check(vkMapMemory(ctx_->device, memory_, 0, VK_WHOLE_SIZE, 0, &mapped), "mapping a staging buffer");
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = std::move(o.ctx_);
    buffer = o.buffer;
    memory_ = o.memory_;
    size = o.size;
    mapped = o.mapped;
    o.buffer = VK_NULL_HANDLE;
    o.memory_ = VK_NULL_HANDLE;
    o.mapped = nullptr;
    o.size = 0;
  }
  return *this;
}

void Buffer::release() {
  if (!ctx_) return;
  if (buffer) vkDestroyBuffer(ctx_->device, buffer, nullptr);
  if (memory_) vkFreeMemory(ctx_->device, memory_, nullptr);
  buffer = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped = nullptr;
}

Buffer::~Buffer() { release(); }

}  // namespace kiln::vk
