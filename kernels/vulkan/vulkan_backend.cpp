// The Vulkan compute backend. At compile time the graph is lowered to a list
// of dispatches (lowering.hpp, one file per op family under ops/; one or
// more dispatches per node, fused convolutions take several nodes), activations are placed in one device-local arena by the memory
// planner, constants in one weights buffer, and the whole run is recorded
// ONCE into a command buffer: input copies from a host-visible staging
// buffer, the dispatches with barriers only where one reads or overwrites what
// an earlier one wrote, timestamps around each node, output copies. run()
// copies inputs into staging, resubmits that command buffer, waits on a fence
// (with a timeout that throws) and copies the outputs out.
//
// --fp16-storage (GpuOptions::fp16_storage): every device buffer (arena,
// weights, staging) holds float16 and the shaders are the float16-storage
// build of the same sources (float32 arithmetic; see shaders/common.glsl).
// Weights are converted once, on upload; graph inputs and outputs stay
// float32 at the API and are converted on the host while run() fills and
// drains the staging buffers, so the device copies move half the bytes.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <mutex>

#include <optional>

#include "engine/passes/passes.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/vulkan/half.hpp"
#include "kernels/vulkan/ops/ops.hpp"
#include "kernels/vulkan/weights.hpp"
#include "kiln/error.hpp"

namespace kiln::vk {
namespace {

// Where a tensor lives: buffer 0 = arena, 1 = weights.
struct Loc {
  int buffer = 0;
  VkDeviceSize offset = 0;
  VkDeviceSize bytes = 0;
};


constexpr auto kLowerings = lowering_table<Lowering>();

class VulkanExecutable final : public Executable {
 public:
  VulkanExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(std::move(graph)),
        ctx_(Context::get(options.gpu.device)),
        fp16_(options.gpu.fp16_storage),
        element_bytes_(options.gpu.fp16_storage ? sizeof(uint16_t) : sizeof(float)),
        pipelines_(ctx_, options.gpu.fp16_storage) {
    if (fp16_) require_fp16_storage(ctx_->name, ctx_->index, ctx_->storage_buffer_16bit);
    align_ = std::max<size_t>(64, ctx_->props.limits.minStorageBufferOffsetAlignment);
    create_sync();
    weights_ = Weights(ctx_, *graph_, fp16_, align_, command_pool_, fence_);
    lower(options);
    PlannerOptions po;
    po.alignment = align_;
    const Graph& lowered = l_->lowered;
    plan_ = plan_memory(
        lowered, [&](TensorId t) { return static_cast<size_t>(element_count(lowered.shape(t))) * element_bytes_; }, po);
    arena_ = Buffer(ctx_, plan_.arena_bytes + align_,
                    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                    false, "the activation arena");
    size_t in_bytes = 0, out_bytes = 0;
    for (TensorId t : graph_->inputs) {
      in_offsets_.push_back(in_bytes);
      in_bytes += align_up(bytes(t), 16);
    }
    for (TensorId t : graph_->outputs) {
      out_offsets_.push_back(out_bytes);
      out_bytes += align_up(bytes(t), 16);
    }
    staging_in_ = Buffer(ctx_, in_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true, "the input staging buffer");
    staging_out_ = Buffer(ctx_, out_bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, true, "the output staging buffer");
    record();
    times_.assign(graph_->nodes.size(), 0.0);
  }

  ~VulkanExecutable() override {
    VkDevice d = ctx_->device;
    vkDeviceWaitIdle(d);
    if (descriptor_pool_) vkDestroyDescriptorPool(d, descriptor_pool_, nullptr);
    if (queries_) vkDestroyQueryPool(d, queries_, nullptr);
    if (command_pool_) vkDestroyCommandPool(d, command_pool_, nullptr);
    if (fence_) vkDestroyFence(d, fence_, nullptr);
  }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    // One command buffer, one set of device buffers: concurrent calls take turns.
    std::lock_guard lock(run_mutex_);
    const Graph& g = *graph_;
    auto* in = static_cast<std::byte*>(staging_in_.mapped);
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      if (fp16_)
        floats_to_halves(inputs[i], reinterpret_cast<uint16_t*>(in + in_offsets_[i]), elements(g.inputs[i]));
      else
        std::memcpy(in + in_offsets_[i], inputs[i], bytes(g.inputs[i]));
    }
    ctx_->submit_and_wait(command_buffer_, fence_, "running the model");
    const auto* out = static_cast<const std::byte*>(staging_out_.mapped);
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      if (fp16_)
        halves_to_floats(reinterpret_cast<const uint16_t*>(out + out_offsets_[i]), outputs[i], elements(g.outputs[i]));
      else
        std::memcpy(outputs[i], out + out_offsets_[i], bytes(g.outputs[i]));
    }
    if (ctx_->timestamps) {
      check(vkGetQueryPoolResults(ctx_->device, queries_, 0, query_count_, stamps_.size() * sizeof(uint64_t),
                                  stamps_.data(), sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
            "reading timestamps");
      for (size_t i = 0; i < times_.size(); ++i)
        times_[i] = timed_[i] ? elapsed_ms(stamps_[2 + 2 * i], stamps_[3 + 2 * i]) : 0.0;
      device_ms_ = elapsed_ms(stamps_[0], stamps_[1]);
    }
  }

  std::vector<double> node_times_ms() const override {
    std::lock_guard lock(run_mutex_);
    return times_;
  }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes;
    s.naive_bytes = plan_.naive_bytes;
    s.weights_bytes = weights_.bytes();
    return s;
  }

  std::string node_detail(size_t i) const override {
    const auto& details = l_->details;
    if (i >= details.size()) return {};
    return i == 0 ? details[i] + " {" + summary_ + "}" : details[i];
  }

  std::optional<double> device_time_ms() const override {
    if (!ctx_->timestamps) return std::nullopt;
    std::lock_guard lock(run_mutex_);
    return device_ms_;
  }

 private:
  size_t elements(TensorId t) const { return static_cast<size_t>(element_count(graph_->shape(t))); }
  // Bytes on the device: float16 or float32 per element.
  size_t bytes(TensorId t) const { return elements(t) * element_bytes_; }
  bool is_const(TensorId t) const { return graph_->tensor(t).is_constant(); }
  const Shape& shape(TensorId t) const { return graph_->shape(t); }
  double elapsed_ms(uint64_t a, uint64_t b) const {
    return static_cast<double>((b - a) & ctx_->timestamp_mask) * ctx_->timestamp_period_ns * 1e-6;
  }

  void create_sync();
  Loc loc(TensorId t) const;
  VkBuffer buffer_of(const Loc& l) const { return l.buffer == 0 ? arena_.buffer : weights_.buffer().buffer; }

  // Lowers every node through its family's function (ops/ops.hpp).
  void lower(const BackendOptions& options) {
    l_.emplace(graph_, options,
               DeviceAccess{ctx_, &pipelines_, &weights_.buffer(), &weights_.offsets(), command_pool_, fence_, element_bytes_});
    plan_fusions(*l_);
    lower_graph(*l_, kLowerings);
  }

  // ---- recording ----
  void record();

  std::shared_ptr<const Graph> graph_;
  std::shared_ptr<Context> ctx_;
  bool fp16_ = false;          // --fp16-storage
  size_t element_bytes_ = 4;   // per element in device buffers: 2 with fp16_
  Pipelines pipelines_;
  size_t align_ = 64;

  Weights weights_;

  std::optional<Lowering> l_;  // made once the weights are on the device (tuning reads them)

  MemoryPlan plan_;
  Buffer arena_, staging_in_, staging_out_;
  std::vector<size_t> in_offsets_, out_offsets_;

  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer command_buffer_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_count_ = 0;
  std::vector<uint64_t> stamps_;
  std::vector<char> timed_;
  std::vector<double> times_;
  mutable std::mutex run_mutex_;
  double device_ms_ = 0;
  std::string summary_;  // dispatches, barriers, pipelines: shown by kiln inspect on the first node
};

void VulkanExecutable::create_sync() {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = ctx_->queue_family;
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  check(vkCreateCommandPool(ctx_->device, &pci, nullptr, &command_pool_), "creating a command pool");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(ctx_->device, &fci, nullptr, &fence_), "creating a fence");
}

Loc VulkanExecutable::loc(TensorId t) const {
  if (t == kNone) return {1, 0, 16};
  const VkDeviceSize b = std::max<VkDeviceSize>(bytes(t), 4);
  if (b > ctx_->props.limits.maxStorageBufferRange)
    throw Error(ErrorCode::Unsupported,
                fmt::format("tensor '{}' needs {:.1f} MiB, more than the {:.1f} MiB one storage buffer binding may have "
                            "on {} (maxStorageBufferRange); use --backend cpu",
                            graph_->tensor(t).name, static_cast<double>(b) / (1 << 20),
                            static_cast<double>(ctx_->props.limits.maxStorageBufferRange) / (1 << 20), ctx_->name));
  if (is_const(t)) return {1, weights_.offset(t), b};
  return {0, static_cast<VkDeviceSize>(plan_.offsets.at(static_cast<size_t>(t))), b};
}

bool overlaps(const Loc& a, const Loc& b) {
  return a.buffer == b.buffer && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

void VulkanExecutable::record() {
  const Graph& g = *graph_;
  VkDevice d = ctx_->device;
  // Descriptor sets: one per dispatch, all written now.
  uint32_t descriptors = 0;
  for (const Step& s : l_->steps) descriptors += static_cast<uint32_t>(s.bind.size());
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(descriptors, 1)};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = std::max<uint32_t>(static_cast<uint32_t>(l_->steps.size()), 1);
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  check(vkCreateDescriptorPool(d, &dpi, nullptr, &descriptor_pool_), "creating the descriptor pool");

  query_count_ = static_cast<uint32_t>(2 + 2 * g.nodes.size());
  if (ctx_->timestamps) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = query_count_;
    check(vkCreateQueryPool(d, &qi, nullptr, &queries_), "creating the timestamp query pool");
    stamps_.assign(query_count_, 0);
  }
  timed_.assign(g.nodes.size(), 0);

  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(d, &ai, &command_buffer_), "allocating the command buffer");
  VkCommandBuffer cb = command_buffer_;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  check(vkBeginCommandBuffer(cb, &bi), "recording the command buffer");
  if (ctx_->timestamps) {
    vkCmdResetQueryPool(cb, queries_, 0, query_count_);
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
  auto barrier = [&](VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = src_access;
    mb.dstAccessMask = dst_access;
    vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
  };
  // Inputs: staging -> arena.
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (bytes(g.inputs[i]) == 0) continue;
    const Loc l = loc(g.inputs[i]);
    VkBufferCopy c{in_offsets_[i], l.offset, bytes(g.inputs[i])};
    vkCmdCopyBuffer(cb, staging_in_.buffer, arena_.buffer, 1, &c);
  }
  barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
          VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);

  // Dispatches, with a barrier only before one that reads or writes bytes an
  // earlier unsynchronised dispatch wrote, or writes bytes one of them reads.
  std::vector<Loc> written, read;
  int current = -1;
  size_t barriers = 0, dispatches = 0;
  for (const Step& s : l_->steps) {
    std::vector<Loc> locs;
    for (TensorId t : s.bind) locs.push_back(loc(t));
    if (s.skip_if_aliased && locs[0].buffer == locs[1].buffer && locs[0].offset == locs[1].offset) continue;
    if (s.node != current) {
      if (ctx_->timestamps) {
        if (current >= 0)
          vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(3 + 2 * current));
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(2 + 2 * s.node));
      }
      timed_[static_cast<size_t>(s.node)] = 1;
      current = s.node;
    }
    bool hazard = false;
    for (size_t b = 0; b < locs.size() && !hazard; ++b) {
      if (s.bind[b] == kNone) continue;
      for (const Loc& w : written) hazard = hazard || overlaps(locs[b], w);
      if (b == 0)
        for (const Loc& r : read) hazard = hazard || overlaps(locs[b], r);
    }
    if (hazard) {
      barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
              VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      written.clear();
      read.clear();
      ++barriers;
    }
    written.push_back(locs[0]);
    for (size_t b = 1; b < locs.size(); ++b)
      if (s.bind[b] != kNone) read.push_back(locs[b]);

    const Pipeline p = pipelines_.get(s.shader, s.spec, static_cast<uint32_t>(s.bind.size()));
    VkDescriptorSetAllocateInfo sai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    sai.descriptorPool = descriptor_pool_;
    sai.descriptorSetCount = 1;
    sai.pSetLayouts = &p.set_layout;
    VkDescriptorSet set;
    check(vkAllocateDescriptorSets(d, &sai, &set), "allocating a descriptor set");
    std::vector<VkDescriptorBufferInfo> infos(locs.size());
    std::vector<VkWriteDescriptorSet> writes(locs.size());
    for (size_t b = 0; b < locs.size(); ++b) {
      infos[b] = {buffer_of(locs[b]), locs[b].offset, locs[b].bytes};
      writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[b].dstSet = set;
      writes[b].dstBinding = static_cast<uint32_t>(b);
      writes[b].descriptorCount = 1;
      writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[b].pBufferInfo = &infos[b];
    }
    vkUpdateDescriptorSets(d, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
    vkCmdDispatch(cb, s.groups[0], s.groups[1], s.groups[2]);
    ++dispatches;
  }
  if (ctx_->timestamps && current >= 0)
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(3 + 2 * current));
  barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_ACCESS_TRANSFER_READ_BIT);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (bytes(g.outputs[i]) == 0) continue;
    const Loc l = loc(g.outputs[i]);
    VkBufferCopy c{l.offset, out_offsets_[i], bytes(g.outputs[i])};
    vkCmdCopyBuffer(cb, buffer_of(l), staging_out_.buffer, 1, &c);
  }
  barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  if (ctx_->timestamps) {
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 1);
    // Untimed nodes: write both of their stamps too, so every query is available.
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (!timed_[i]) {
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(2 + 2 * i));
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(3 + 2 * i));
      }
  }
  check(vkEndCommandBuffer(cb), "recording the command buffer");
  summary_ = fmt::format("{} dispatches, {} barriers, {} pipelines, {} storage", dispatches, barriers, pipelines_.size(),
                         fp16_ ? "float16" : "float32");
}

class VulkanBackend final : public Backend {
 public:
  std::string_view name() const override { return "vulkan"; }
  bool host_memory() const override { return false; }
  std::string description() const override {
    return "float32 GLSL compute shaders on a Vulkan device (--device N), NCHW, per-layer convolution algorithms; "
           "float16 storage with --fp16-storage";
  }
  bool supports_fp16_storage() const override { return true; }
  bool supports(const Graph& graph, const Node& node) const override {
    // Shaders index with 32-bit ints.
    for (TensorId t : node.inputs)
      if (element_count(graph.shape(t)) > INT32_MAX) return false;
    for (TensorId t : node.outputs)
      if (element_count(graph.shape(t)) > INT32_MAX) return false;
    if (node.op == OpType::MatMul) {
      for (TensorId t : node.inputs)
        if (graph.shape(t).size() > 8) return false;
    }
    return true;
  }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    // No integer kernels: a quantized model runs in float32 with its dequantized weights.
    if (has_quantized_tensors(*graph)) {
      auto dequantized = std::make_shared<Graph>(*graph);
      dequantize_to_float(*dequantized);
      graph = std::move(dequantized);
    }
    return std::make_unique<VulkanExecutable>(std::move(graph), options);
  }
  std::vector<DeviceInfo> devices() const override { return Context::list(); }
  std::vector<std::string> algorithm_names() const override { return conv_algorithm_names(); }
  EnergySource energy_source() const override { return EnergySource::GpuNvml; }
};

}  // namespace
}  // namespace kiln::vk

namespace kiln {
void register_vulkan_backend(BackendRegistry& registry) {
  registry.add("vulkan", [] { return std::make_unique<vk::VulkanBackend>(); });
}
}  // namespace kiln
