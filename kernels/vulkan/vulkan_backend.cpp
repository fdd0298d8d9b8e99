// The Vulkan compute backend. At compile time the graph is lowered to a list
// of dispatches (one or more per node; fused convolutions take several
// nodes), activations are placed in one device-local arena by the memory
// planner, constants in one weights buffer, and the whole run is recorded
// ONCE into a command buffer: input copies from a host-visible staging
// buffer, the dispatches with barriers only where one reads or overwrites what
// an earlier one wrote, timestamps around each node, output copies. run()
// copies inputs into staging, resubmits that command buffer, waits on a fence
// (with a timeout that throws) and copies the outputs out.
//
// --fp16-storage (BackendOptions::fp16_storage): every device buffer (arena,
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

#include "engine/core/activation.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"
#include "engine/core/spatial.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/vulkan/context.hpp"
#include "kernels/vulkan/conv_algorithms.hpp"
#include "kernels/vulkan/half.hpp"
#include "kernels/vulkan/pipelines.hpp"
#include "kiln/error.hpp"

namespace kiln::vk {
namespace {

constexpr int kMaxDims = 8;
constexpr uint32_t kLocal = 64;  // threads per workgroup of the 1-D shaders
constexpr TensorId kNone = -1;   // an unused binding (bound to a dummy range)

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Right-aligned to 8 axes (leading size-1 axes), as the shaders index them.
std::array<int64_t, kMaxDims> dims8(const Shape& s) {
  std::array<int64_t, kMaxDims> d;
  d.fill(1);
  for (size_t i = 0; i < s.size(); ++i) d[kMaxDims - s.size() + i] = s[i];
  return d;
}
std::array<int64_t, kMaxDims> strides8(const Shape& s) {
  std::array<int64_t, kMaxDims> st{};
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[kMaxDims - s.size() + i] = acc;
    acc *= s[i];
  }
  return st;
}
// Strides for reading `shape` broadcast to `out` (both right-aligned to 8 axes).
std::array<int64_t, kMaxDims> broadcast8(const Shape& shape, const Shape& out) {
  std::array<int64_t, kMaxDims> st{};
  const auto full = strides8(shape);
  const auto d = dims8(shape);
  (void)out;
  for (int i = 0; i < kMaxDims; ++i) st[i] = d[i] == 1 ? 0 : full[i];
  return st;
}


// One dispatch before recording.
struct Step {
  int node = 0;  // the graph node it is timed under
  std::string shader;
  Spec spec;
  std::vector<TensorId> bind;  // binding i -> tensor (0 is the output)
  std::array<uint32_t, 3> groups{1, 1, 1};
  bool skip_if_aliased = false;  // a plain copy whose source and destination share bytes
};

// Where a tensor lives: buffer 0 = arena, 1 = weights.
struct Loc {
  int buffer = 0;
  VkDeviceSize offset = 0;
  VkDeviceSize bytes = 0;
};

std::array<uint32_t, 3> groups_1d(int64_t count, uint32_t local = kLocal) {
  const int64_t n = std::max<int64_t>((count + local - 1) / local, 1);
  const int64_t gx = std::min<int64_t>(n, 65535);
  return {static_cast<uint32_t>(gx), static_cast<uint32_t>((n + gx - 1) / gx), 1};
}

ConvShape conv_shape_of(const Graph& g, const Node& node) {
  const auto& a = attrs_as<fb::ConvAttrsT>(node);
  const Shape& xs = g.shape(node.inputs[0]);
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, false);
  ConvShape s;
  s.N = static_cast<int>(xs[0]);
  s.C = static_cast<int>(xs[1]);
  s.K = static_cast<int>(g.shape(node.inputs[1])[0]);
  s.group = a.group;
  for (int i = 0; i < 3; ++i) {
    s.in[i] = static_cast<int>(w.in[i]);
    s.out[i] = static_cast<int>(w.out[i]);
    s.kernel[i] = static_cast<int>(w.kernel[i]);
    s.stride[i] = static_cast<int>(w.stride[i]);
    s.dilation[i] = static_cast<int>(w.dilation[i]);
    s.pad_begin[i] = static_cast<int>(w.pad_begin[i]);
    s.pad_end[i] = static_cast<int>(w.pad_end[i]);
  }
  return s;
}

// The shader, constants and launch of one convolution (or a fused dw + pw pair
// when `pw` is given: then `s` is the depthwise layer).
struct ConvLaunch {
  std::string shader;
  Spec spec;
  std::array<uint32_t, 3> groups{1, 1, 1};
  uint32_t bindings = 5;
};

ConvLaunch conv_launch(const ConvShape& s, ConvShader kind, const fb::FusedActivation& act, bool has_bias, bool has_res,
                       const ConvShape* pw = nullptr, const fb::FusedActivation* dw_act = nullptr,
                       bool dw_has_bias = false) {
  ConvLaunch l;
  Spec& p = l.spec;
  const int64_t out_elems = pw ? pw->output_elems() : s.output_elems();
  p.i(1, out_elems).i(2, s.N).i(3, s.C).i(4, s.K).i(5, pw ? 1 : s.group);
  for (int a = 0; a < 3; ++a) {
    p.i(6 + a, s.in[a]).i(9 + a, s.out[a]).i(12 + a, s.kernel[a]).i(15 + a, s.stride[a]);
    p.i(18 + a, s.dilation[a]).i(21 + a, s.pad_begin[a]);
  }
  p.i(24, has_bias).i(25, has_res).i(26, static_cast<int>(act.kind())).f(27, act.alpha()).f(28, act.beta());
  const int64_t P = int64_t{s.out[1]} * s.out[2];
  switch (kind) {
    case ConvShader::Direct:
      l.shader = "conv_direct";
      l.groups = groups_1d(out_elems);
      break;
    case ConvShader::Depthwise:
      l.shader = "conv_depthwise";
      l.groups = groups_1d(out_elems);
      break;
    case ConvShader::Gemm1x1:
    case ConvShader::ImplicitGemm: {
      l.shader = "conv_gemm";
      l.bindings = 7;
      const int mode = pw ? 2 : kind == ConvShader::Gemm1x1 ? 1 : 0;
      const int kout = pw ? pw->K : s.K;
      const int group = pw ? 1 : s.group;
      p.i(30, mode).i(31, kout);
      if (pw) {
        p.i(32, static_cast<int>(dw_act->kind())).f(33, dw_act->alpha()).f(34, dw_act->beta()).i(35, dw_has_bias);
      }
      const int64_t kg = kout / group;
      l.groups = {static_cast<uint32_t>((P + 63) / 64), static_cast<uint32_t>((kg + 63) / 64),
                  static_cast<uint32_t>(int64_t{s.N} * group)};
      break;
    }
  }
  return l;
}

class VulkanExecutable final : public Executable {
 public:
  VulkanExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(std::move(graph)),
        ctx_(Context::get(options.device)),
        fp16_(options.fp16_storage),
        element_bytes_(options.fp16_storage ? sizeof(uint16_t) : sizeof(float)),
        pipelines_(ctx_, options.fp16_storage),
        selector_(options, *ctx_) {
    if (fp16_) require_fp16_storage(ctx_->name, ctx_->index, ctx_->storage_buffer_16bit);
    align_ = std::max<size_t>(64, ctx_->props.limits.minStorageBufferOffsetAlignment);
    create_sync();
    upload_weights();
    lower();
    PlannerOptions po;
    po.alignment = align_;
    plan_ = plan_memory(
        lowered_, [&](TensorId t) { return static_cast<size_t>(element_count(lowered_.shape(t))) * element_bytes_; }, po);
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

  std::span<const double> node_times_ms() const override { return times_; }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes;
    s.naive_bytes = plan_.naive_bytes;
    s.weights_bytes = weights_bytes_;
    return s;
  }

  std::string node_detail(size_t i) const override {
    if (i >= details_.size()) return {};
    return i == 0 ? details_[i] + " {" + summary_ + "}" : details_[i];
  }

  std::optional<double> device_time_ms() const override {
    if (!ctx_->timestamps) return std::nullopt;
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
  void upload_weights();
  Loc loc(TensorId t) const;
  VkBuffer buffer_of(const Loc& l) const { return l.buffer == 0 ? arena_.buffer : weights_.buffer; }

  // ---- lowering ----
  void lower();
  void add_step(int node, std::string shader, Spec spec, std::vector<TensorId> bind, std::array<uint32_t, 3> groups,
                bool skip_if_aliased = false) {
    Step s;
    s.node = node;
    s.shader = std::move(shader);
    s.spec = std::move(spec);
    s.bind = std::move(bind);
    s.groups = groups;
    s.skip_if_aliased = skip_if_aliased;
    steps_.push_back(std::move(s));
  }
  void lowered_node(const Node& n, std::vector<TensorId> in, std::vector<TensorId> out) {
    Node l;
    l.name = n.name;
    l.op = n.op;
    l.inputs = std::move(in);
    l.outputs = std::move(out);
    lowered_.nodes.push_back(std::move(l));
  }
  std::pair<TensorId, int> residual_after(int i, int first) const;
  void plan_fusions();
  void lower_conv(int i, std::vector<char>& skip);
  void lower_fused(int dw, int pw, std::vector<char>& skip);
  void lower_copy(int i, const Node& n, const Shape& dims, const std::array<int64_t, kMaxDims>& src_strides,
                  const std::array<int64_t, kMaxDims>& dst_strides, int64_t src_base, int64_t dst_base, TensorId out,
                  TensorId in, bool skip_if_aliased = false);
  void lower_other(int i);
  double measure_conv(const ConvShape& s, const ConvAlgorithm& alg, const Node& node, bool residual);

  // ---- recording ----
  void record();

  std::shared_ptr<const Graph> graph_;
  std::shared_ptr<Context> ctx_;
  bool fp16_ = false;          // --fp16-storage
  size_t element_bytes_ = 4;   // per element in device buffers: 2 with fp16_
  Pipelines pipelines_;
  ConvSelector selector_;
  size_t align_ = 64;

  Buffer weights_;
  std::vector<VkDeviceSize> weight_offset_;  // per tensor; constants only
  size_t weights_bytes_ = 0;

  Graph lowered_;  // what the planner sees: the nodes as launched (fused ones merged)
  std::vector<Step> steps_;
  std::vector<std::string> details_;
  std::vector<std::vector<int>> consumers_;
  std::vector<int> producers_;
  std::vector<int> fused_pw_;  // per depthwise node: the 1x1 node fused into it, or -1

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

// Every constant tensor a node reads goes into one device-local buffer,
// each at an aligned offset; offset 0 holds a dummy range for unused bindings.
void VulkanExecutable::upload_weights() {
  const Graph& g = *graph_;
  weight_offset_.assign(g.tensors.size(), 0);
  std::vector<char> used(g.tensors.size(), 0);
  for (const Node& n : g.nodes)
    for (TensorId t : n.inputs)
      if (is_const(t)) used[static_cast<size_t>(t)] = 1;
  size_t total = align_;  // the dummy range
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!used[t]) continue;
    weight_offset_[t] = total;
    total += align_up(std::max<size_t>(bytes(static_cast<TensorId>(t)), 4), align_);
  }
  weights_bytes_ = total;
  weights_ = Buffer(ctx_, total, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, false,
                    "the weights");
  Buffer staging(ctx_, total, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true, "uploading the weights");
  auto* dst = static_cast<std::byte*>(staging.mapped);
  std::memset(dst, 0, total);
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!used[t]) continue;
    const ConstantData& c = *g.tensors[t].constant;
    if (!fp16_) {
      std::memcpy(dst + weight_offset_[t], c.bytes(), c.size_bytes());
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
    floats_to_halves(v, reinterpret_cast<uint16_t*>(dst + weight_offset_[t]), n);
  }
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(vkAllocateCommandBuffers(ctx_->device, &ai, &cb), "allocating a command buffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cb, &bi);
  VkBufferCopy region{0, 0, total};
  vkCmdCopyBuffer(cb, staging.buffer, weights_.buffer, 1, &region);
  check(vkEndCommandBuffer(cb), "recording the weight upload");
  ctx_->submit_and_wait(cb, fence_, "uploading the weights");
  vkFreeCommandBuffers(ctx_->device, command_pool_, 1, &cb);
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
  if (is_const(t)) return {1, weight_offset_[static_cast<size_t>(t)], b};
  return {0, static_cast<VkDeviceSize>(plan_.offsets.at(static_cast<size_t>(t))), b};
}

// A following Add of a tensor that exists before node `first` can move into
// node i's epilogue (as the CPU backend does): {residual, add node}.
std::pair<TensorId, int> VulkanExecutable::residual_after(int i, int first) const {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const TensorId out = node.outputs[0];
  const auto& readers = consumers_[static_cast<size_t>(out)];
  if (attrs_as<fb::ConvAttrsT>(node).activation.kind() != fb::ActivationKind::None || readers.size() != 1 ||
      g.is_graph_output(out))
    return {kNone, -1};
  const Node& add = g.nodes[static_cast<size_t>(readers[0])];
  if (add.op != OpType::Add || add.inputs.size() != 2) return {kNone, -1};
  const TensorId other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
  if (other == out || g.shape(other) != g.shape(out) || g.shape(add.outputs[0]) != g.shape(out)) return {kNone, -1};
  if (producers_[static_cast<size_t>(other)] >= first) return {kNone, -1};
  return {other, readers[0]};
}

// Depthwise layers whose only reader is a 1x1 layer: fuse when the selector says so.
void VulkanExecutable::plan_fusions() {
  const Graph& g = *graph_;
  fused_pw_.assign(g.nodes.size(), -1);
  std::vector<char> taken(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& dw = g.nodes[i];
    if (dw.op != OpType::Conv || taken[i]) continue;
    const TensorId mid = dw.outputs[0];
    const auto& readers = consumers_[static_cast<size_t>(mid)];
    if (readers.size() != 1 || g.is_graph_output(mid)) continue;
    const Node& pw = g.nodes[static_cast<size_t>(readers[0])];
    if (pw.op != OpType::Conv || pw.inputs[0] != mid) continue;
    // The 1x1's weights and bias must exist when the pair runs (at the depthwise's place).
    bool ready = true;
    for (size_t k = 1; k < pw.inputs.size(); ++k)
      if (producers_[static_cast<size_t>(pw.inputs[k])] >= static_cast<int>(i)) ready = false;
    if (!ready) continue;
    const ConvShape ds = conv_shape_of(g, dw), ps = conv_shape_of(g, pw);
    if (!fused_applicable(ds, ps)) continue;
    const double separate = selector_.heuristic_ms(ds) + selector_.heuristic_ms(ps);
    double fused = 0;
    if (!selector_.fuse(ds, ps, separate, &fused)) continue;
    fused_pw_[i] = readers[0];
    taken[static_cast<size_t>(readers[0])] = 1;
    details_[static_cast<size_t>(readers[0])] = fmt::format("fused into {}", dw.name);
    details_[i] = fmt::format("{} + {} [est {:.3f} ms vs {:.3f} ms separate]", kFusedDwPw, pw.name, fused, separate);
  }
}

void VulkanExecutable::lower() {
  const Graph& g = *graph_;
  lowered_.tensors = g.tensors;
  lowered_.inputs = g.inputs;
  lowered_.outputs = g.outputs;
  details_.assign(g.nodes.size(), "");
  consumers_ = g.consumers();
  producers_ = g.producers();
  plan_fusions();
  std::vector<char> skip(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (skip[i]) continue;
    const int n = static_cast<int>(i);
    if (fused_pw_[i] >= 0) lower_fused(n, fused_pw_[i], skip);
    else if (g.nodes[i].op == OpType::Conv) lower_conv(n, skip);
    else lower_other(n);
  }
}

double VulkanExecutable::measure_conv(const ConvShape& s, const ConvAlgorithm& alg, const Node& node, bool residual) {
  const Graph& g = *graph_;
  const bool has_bias = node.inputs.size() > 2;
  const ConvLaunch l = conv_launch(s, alg.shader(), attrs_as<fb::ConvAttrsT>(node).activation, has_bias, residual);
  const Pipeline p = pipelines_.get(l.shader, l.spec, l.bindings);
  const VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  Buffer x(ctx_, static_cast<size_t>(s.input_elems()) * element_bytes_, usage, false, "tuning input");
  Buffer y(ctx_, static_cast<size_t>(s.output_elems()) * element_bytes_, usage, false, "tuning output");
  Buffer r(ctx_, residual ? static_cast<size_t>(s.output_elems()) * element_bytes_ : 64, usage, false,
           "tuning residual");
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, l.bindings};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = 1;
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  VkDescriptorPool pool;
  check(vkCreateDescriptorPool(ctx_->device, &dpi, nullptr, &pool), "creating a descriptor pool");
  VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qi.queryCount = 4;
  VkQueryPool qp;
  check(vkCreateQueryPool(ctx_->device, &qi, nullptr, &qp), "creating a query pool");
  VkDescriptorSetAllocateInfo sai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  sai.descriptorPool = pool;
  sai.descriptorSetCount = 1;
  sai.pSetLayouts = &p.set_layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(ctx_->device, &sai, &set), "allocating a descriptor set");
  auto weight_info = [&](size_t k) -> VkDescriptorBufferInfo {
    if (k >= node.inputs.size()) return {weights_.buffer, 0, 16};
    const TensorId t = node.inputs[k];
    return {weights_.buffer, weight_offset_[static_cast<size_t>(t)], std::max<VkDeviceSize>(bytes(t), 4)};
  };
  std::vector<VkDescriptorBufferInfo> infos = {{y.buffer, 0, VK_WHOLE_SIZE}, {x.buffer, 0, VK_WHOLE_SIZE}, weight_info(1),
                                               weight_info(2), {r.buffer, 0, VK_WHOLE_SIZE}};
  while (infos.size() < l.bindings) infos.push_back({weights_.buffer, 0, 16});
  std::vector<VkWriteDescriptorSet> writes(l.bindings);
  for (uint32_t b = 0; b < l.bindings; ++b) {
    writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[b].dstSet = set;
    writes[b].dstBinding = b;
    writes[b].descriptorCount = 1;
    writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[b].pBufferInfo = &infos[b];
  }
  vkUpdateDescriptorSets(ctx_->device, l.bindings, writes.data(), 0, nullptr);
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(vkAllocateCommandBuffers(ctx_->device, &ai, &cb), "allocating a command buffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vkBeginCommandBuffer(cb, &bi);
  vkCmdResetQueryPool(cb, qp, 0, 4);
  vkCmdFillBuffer(cb, x.buffer, 0, VK_WHOLE_SIZE, 0);
  vkCmdFillBuffer(cb, r.buffer, 0, VK_WHOLE_SIZE, 0);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  for (int k = 0; k < 4; ++k) {  // a warm-up launch, then three timed ones
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    if (ctx_->timestamps) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, static_cast<uint32_t>(k));
    vkCmdDispatch(cb, l.groups[0], l.groups[1], l.groups[2]);
  }
  check(vkEndCommandBuffer(cb), "recording a tuning run");
  const auto t0 = std::chrono::steady_clock::now();
  ctx_->submit_and_wait(cb, fence_, "timing a convolution algorithm");
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 4;
  if (ctx_->timestamps) {
    // The last launch has no closing stamp; timestamps 0..3 bound launches 0..2.
    uint64_t st[4];
    check(vkGetQueryPoolResults(ctx_->device, qp, 0, 4, sizeof st, st, sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "reading timestamps");
    ms = std::min(elapsed_ms(st[1], st[2]), elapsed_ms(st[2], st[3]));
  }
  vkFreeCommandBuffers(ctx_->device, command_pool_, 1, &cb);
  vkDestroyQueryPool(ctx_->device, qp, nullptr);
  vkDestroyDescriptorPool(ctx_->device, pool, nullptr);
  (void)g;
  return ms;
}

void VulkanExecutable::lower_conv(int i, std::vector<char>& skip) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const ConvShape s = conv_shape_of(g, node);
  fb::FusedActivation act = attrs_as<fb::ConvAttrsT>(node).activation;
  auto [residual, add] = residual_after(i, i);
  TensorId out = node.outputs[0];
  const bool weights_const = is_const(node.inputs[1]) && (node.inputs.size() < 3 || is_const(node.inputs[2]));
  ConvSelector::Measure measure;
  if (weights_const)
    measure = [&, has_res = residual != kNone](const ConvAlgorithm& a) { return measure_conv(s, a, node, has_res); };
  const Selection sel = selector_.choose(s, residual != kNone, measure);
  if (add >= 0) {
    const Node& a = g.nodes[static_cast<size_t>(add)];
    act = attrs_as<fb::BinaryAttrsT>(a).activation;
    out = a.outputs[0];
    skip[static_cast<size_t>(add)] = 1;
    details_[static_cast<size_t>(add)] = "fused into " + node.name;
  }
  const bool has_bias = node.inputs.size() > 2;
  ConvLaunch l = conv_launch(s, sel.algorithm->shader(), act, has_bias, residual != kNone);
  std::vector<TensorId> bind = {out, node.inputs[0], node.inputs[1], has_bias ? node.inputs[2] : kNone, residual};
  while (bind.size() < l.bindings) bind.push_back(kNone);
  std::vector<TensorId> ins = {node.inputs[0]};
  for (size_t k = 1; k < node.inputs.size(); ++k) ins.push_back(node.inputs[k]);
  if (residual != kNone) ins.push_back(residual);
  lowered_node(node, ins, {out});
  std::string detail = fmt::format("{} [{}, est {:.3f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.3f} ms", sel.measured_ms);
  detail += "]";
  if (residual != kNone) detail += " +residual";
  details_[static_cast<size_t>(i)] = detail;
  if (s.output_elems() > 0) add_step(i, l.shader, std::move(l.spec), std::move(bind), l.groups);
}

void VulkanExecutable::lower_fused(int dwi, int pwi, std::vector<char>& skip) {
  const Graph& g = *graph_;
  const Node& dw = g.nodes[static_cast<size_t>(dwi)];
  const Node& pw = g.nodes[static_cast<size_t>(pwi)];
  const ConvShape ds = conv_shape_of(g, dw), ps = conv_shape_of(g, pw);
  fb::FusedActivation act = attrs_as<fb::ConvAttrsT>(pw).activation;
  const fb::FusedActivation dw_act = attrs_as<fb::ConvAttrsT>(dw).activation;
  auto [residual, add] = residual_after(pwi, dwi);
  TensorId out = pw.outputs[0];
  if (add >= 0) {
    const Node& a = g.nodes[static_cast<size_t>(add)];
    act = attrs_as<fb::BinaryAttrsT>(a).activation;
    out = a.outputs[0];
    skip[static_cast<size_t>(add)] = 1;
    details_[static_cast<size_t>(add)] = "fused into " + dw.name;
    details_[static_cast<size_t>(dwi)] += " +residual";
  }
  skip[static_cast<size_t>(pwi)] = 1;
  const bool has_bias = pw.inputs.size() > 2, dw_bias = dw.inputs.size() > 2;
  ConvLaunch l = conv_launch(ds, ConvShader::ImplicitGemm, act, has_bias, residual != kNone, &ps, &dw_act, dw_bias);
  std::vector<TensorId> bind = {out,      dw.inputs[0],        pw.inputs[1], has_bias ? pw.inputs[2] : kNone,
                                residual, dw.inputs[1], dw_bias ? dw.inputs[2] : kNone};
  std::vector<TensorId> ins = {dw.inputs[0], dw.inputs[1], pw.inputs[1]};
  if (has_bias) ins.push_back(pw.inputs[2]);
  if (dw_bias) ins.push_back(dw.inputs[2]);
  if (residual != kNone) ins.push_back(residual);
  lowered_node(dw, ins, {out});
  if (ps.output_elems() > 0) add_step(dwi, l.shader, std::move(l.spec), std::move(bind), l.groups);
}

void VulkanExecutable::lower_copy(int i, const Node& n, const Shape& dims, const std::array<int64_t, kMaxDims>& src,
                                  const std::array<int64_t, kMaxDims>& dst, int64_t src_base, int64_t dst_base,
                                  TensorId out, TensorId in, bool skip_if_aliased) {
  (void)n;
  const int64_t count = element_count(dims);
  if (count == 0) return;
  const auto d = dims8(dims);
  Spec s;
  s.i(1, count).i(2, src_base).i(3, dst_base);
  for (int k = 0; k < kMaxDims; ++k) s.i(10 + k, d[k]).i(20 + k, src[k]).i(30 + k, dst[k]);
  add_step(i, "copy", std::move(s), {out, in}, groups_1d(count), skip_if_aliased);
}

int normalize_axis(int64_t axis, size_t rank) { return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis); }

void VulkanExecutable::lower_other(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  lowered_node(node, node.inputs, node.outputs);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = shape(x);
  const Shape& ys = shape(y);
  const int64_t count = element_count(ys);
  switch (node.op) {
    case OpType::Relu:
    case OpType::Clip:
    case OpType::LeakyRelu:
    case OpType::Sigmoid:
    case OpType::HardSigmoid:
    case OpType::HardSwish:
    case OpType::Tanh: {
      const fb::FusedActivation a = fused_form_of(node);
      Spec s;
      s.i(1, count).i(2, static_cast<int>(a.kind())).f(3, a.alpha()).f(4, a.beta());
      if (count > 0) add_step(i, "unary", std::move(s), {y, x}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "unary";
      return;
    }
    case OpType::Add:
    case OpType::Sub:
    case OpType::Mul:
    case OpType::Div: {
      const fb::FusedActivation a = attrs_as<fb::BinaryAttrsT>(node).activation;
      const int op = node.op == OpType::Add ? 0 : node.op == OpType::Sub ? 1 : node.op == OpType::Mul ? 2 : 3;
      const TensorId b = node.inputs[1];
      const auto d = dims8(ys), sa = broadcast8(xs, ys), sb = broadcast8(shape(b), ys);
      Spec s;
      s.i(1, count).i(2, op).i(3, static_cast<int>(a.kind())).f(4, a.alpha()).f(5, a.beta());
      for (int k = 0; k < kMaxDims; ++k) s.i(10 + k, d[k]).i(20 + k, sa[k]).i(30 + k, sb[k]);
      if (count > 0) add_step(i, "binary", std::move(s), {y, x, b}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "binary (broadcast)";
      return;
    }
    case OpType::Flatten:
    case OpType::Reshape:
    case OpType::Squeeze:
    case OpType::Unsqueeze:
    case OpType::Identity:
    case OpType::Dropout: {
      const Shape flat = {count};
      lower_copy(i, node, flat, strides8(flat), strides8(flat), 0, 0, y, x, true);
      details_[static_cast<size_t>(i)] = "alias (no copy) or copy";
      return;
    }
    case OpType::Transpose: {
      const auto& perm = attrs_as<fb::TransposeAttrsT>(node).perm;
      const auto in_st = strides8(xs);
      std::array<int64_t, kMaxDims> src{};
      const size_t r = perm.size();
      for (size_t k = 0; k < r; ++k) src[kMaxDims - r + k] = in_st[kMaxDims - r + static_cast<size_t>(perm[k])];
      lower_copy(i, node, ys, src, strides8(ys), 0, 0, y, x);
      details_[static_cast<size_t>(i)] = "strided copy";
      return;
    }
    case OpType::Slice: {
      const SliceRanges ranges = slice_ranges(xs, attrs_as<fb::SliceAttrsT>(node), node.name);
      const auto in_st = strides8(xs);
      std::array<int64_t, kMaxDims> src{};
      int64_t base = 0;
      const size_t r = xs.size();
      for (size_t d = 0; d < r; ++d) {
        const int64_t st = in_st[kMaxDims - r + d];
        if (ranges[d].count > 0) base += ranges[d].start * st;
        src[kMaxDims - r + d] = ranges[d].count > 1 ? ranges[d].step * st : 0;
      }
      lower_copy(i, node, ys, src, strides8(ys), count > 0 ? base : 0, 0, y, x);
      details_[static_cast<size_t>(i)] = "strided copy";
      return;
    }
    case OpType::Concat: {
      const int axis = normalize_axis(attrs_as<fb::ConcatAttrsT>(node).axis, ys.size());
      const auto out_st = strides8(ys);
      const size_t r = ys.size();
      int64_t col = 0;
      for (TensorId t : node.inputs) {
        lower_copy(i, node, shape(t), strides8(shape(t)), out_st, 0, col * out_st[kMaxDims - r + static_cast<size_t>(axis)], y,
                   t);
        col += shape(t)[static_cast<size_t>(axis)];
      }
      details_[static_cast<size_t>(i)] = fmt::format("{} strided copies", node.inputs.size());
      return;
    }
    case OpType::Split: {
      const int axis = normalize_axis(attrs_as<fb::SplitAttrsT>(node).axis, xs.size());
      const auto in_st = strides8(xs);
      const size_t r = xs.size();
      int64_t col = 0;
      for (TensorId t : node.outputs) {
        lower_copy(i, node, shape(t), in_st, strides8(shape(t)), col * in_st[kMaxDims - r + static_cast<size_t>(axis)], 0,
                   t, x);
        col += shape(t)[static_cast<size_t>(axis)];
      }
      details_[static_cast<size_t>(i)] = fmt::format("{} strided copies", node.outputs.size());
      return;
    }
    case OpType::Pad: {
      const auto& a = attrs_as<fb::PadAttrsT>(node);
      const auto od = dims8(ys), id = dims8(xs);
      const size_t r = xs.size();
      Spec s;
      s.i(1, count).f(2, a.value);
      for (int k = 0; k < kMaxDims; ++k) {
        const int64_t p = static_cast<size_t>(k) >= kMaxDims - r ? a.pads[static_cast<size_t>(k) - (kMaxDims - r)] : 0;
        s.i(10 + k, od[k]).i(20 + k, id[k]).i(30 + k, p);
      }
      if (count > 0) add_step(i, "pad", std::move(s), {y, x}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "pad";
      return;
    }
    case OpType::Softmax: {
      const auto [outer, n, inner] = softmax_extents(xs, attrs_as<fb::SoftmaxAttrsT>(node));
      Spec s;
      s.i(1, outer * inner).i(2, n).i(3, inner);
      if (count > 0) add_step(i, "softmax", std::move(s), {y, x}, groups_1d(outer * inner));
      details_[static_cast<size_t>(i)] = "softmax (one row per thread)";
      return;
    }
    case OpType::ReduceMean: {
      const auto& a = attrs_as<fb::ReduceAttrsT>(node);
      std::array<bool, kMaxDims> reduced{};
      const size_t r = xs.size();
      for (size_t d = 0; d < r; ++d) reduced[d] = a.axes.empty();
      for (int32_t ax : a.axes) reduced[static_cast<size_t>(normalize_axis(ax, r))] = true;
      const auto st = strides8(xs);
      Spec s;
      int64_t red_count = 1;
      for (int k = 0; k < kMaxDims; ++k) {
        const bool real = static_cast<size_t>(k) >= kMaxDims - r;
        const int64_t dim = real ? xs[static_cast<size_t>(k) - (kMaxDims - r)] : 1;
        const bool red = real && reduced[static_cast<size_t>(k) - (kMaxDims - r)];
        if (red) red_count *= dim;
        s.i(10 + k, red ? 1 : dim).i(20 + k, red ? dim : 1).i(30 + k, real ? st[k] : 0);
      }
      s.i(1, count).i(2, red_count);
      if (count > 0) add_step(i, "reduce_mean", std::move(s), {y, x}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "reduce (one output per thread)";
      return;
    }
    case OpType::BatchNormalization: {
      const int64_t C = xs[1];
      Spec s;
      s.i(1, count).i(2, C).i(3, count / std::max<int64_t>(xs[0] * C, 1)).f(4, attrs_as<fb::BatchNormAttrsT>(node).epsilon);
      if (count > 0)
        add_step(i, "batchnorm", std::move(s), {y, x, node.inputs[1], node.inputs[2], node.inputs[3], node.inputs[4]},
                 groups_1d(count));
      details_[static_cast<size_t>(i)] = "batchnorm";
      return;
    }
    case OpType::MaxPool:
    case OpType::AveragePool: {
      const auto& a = attrs_as<fb::PoolAttrsT>(node);
      const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
      Spec s;
      s.i(1, count).i(2, node.op == OpType::MaxPool).i(3, a.count_include_pad);
      for (int k = 0; k < 3; ++k) {
        s.i(10 + k, w.in[k]).i(13 + k, w.out[k]).i(16 + k, w.kernel[k]).i(19 + k, w.stride[k]);
        s.i(22 + k, w.dilation[k]).i(25 + k, w.pad_begin[k]).i(28 + k, w.pad_end[k]);
      }
      if (count > 0) add_step(i, "pool", std::move(s), {y, x}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "pool (one output per thread)";
      return;
    }
    case OpType::GlobalAveragePool:
    case OpType::GlobalMaxPool: {
      const int64_t planes = xs[0] * xs[1];
      Spec s;
      s.i(1, planes).i(2, element_count(xs) / std::max<int64_t>(planes, 1)).i(3, node.op == OpType::GlobalMaxPool);
      if (count > 0) add_step(i, "global_pool", std::move(s), {y, x}, groups_1d(planes, 1));
      details_[static_cast<size_t>(i)] = "global pool (a workgroup per plane)";
      return;
    }
    case OpType::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(node);
      const Shape& as = xs;
      const Shape& bs = shape(node.inputs[1]);
      const int64_t M = a.trans_a ? as[1] : as[0], K = a.trans_a ? as[0] : as[1], N = a.trans_b ? bs[0] : bs[1];
      Spec s;
      s.i(1, count).i(2, M).i(3, N).i(4, K);
      s.i(5, a.trans_a ? 1 : K).i(6, a.trans_a ? M : 1).i(7, a.trans_b ? 1 : N).i(8, a.trans_b ? K : 1);
      const bool has_c = node.inputs.size() > 2;
      int64_t csm = 0, csn = 0;
      if (has_c) {
        const auto cst = broadcast8(shape(node.inputs[2]), {M, N});
        csm = cst[kMaxDims - 2];
        csn = cst[kMaxDims - 1];
      }
      s.i(9, has_c).i(10, csm).i(11, csn).f(12, a.alpha).f(13, a.beta);
      s.i(14, static_cast<int>(a.activation.kind())).f(15, a.activation.alpha()).f(16, a.activation.beta());
      if (count > 0)
        add_step(i, "matmul", std::move(s), {y, x, node.inputs[1], has_c ? node.inputs[2] : kNone}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "gemm (one output per thread)";
      return;
    }
    case OpType::MatMul: {
      const Shape& as = xs;
      const Shape& bs = shape(node.inputs[1]);
      const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2], K = as.back(), N = bs.size() == 1 ? 1 : bs.back();
      const Shape ba(as.begin(), as.size() > 2 ? as.end() - 2 : as.begin());
      const Shape bb(bs.begin(), bs.size() > 2 ? bs.end() - 2 : bs.begin());
      const Shape batch = broadcast_shapes(ba, bb, node.name);
      if (batch.size() > 6) throw Error(ErrorCode::Unsupported, "vulkan: MatMul '" + node.name + "' has more than 6 batch axes");
      const auto sa = broadcast8(ba, batch), sb = broadcast8(bb, batch);
      const auto bd = dims8(batch);
      Spec s;
      s.i(1, count).i(2, M).i(3, N).i(4, K).i(5, K).i(6, 1).i(7, N).i(8, 1).i(9, 0);
      s.i(14, 0).f(12, 1.0f).f(13, 0.0f);
      for (int k = 0; k < 6; ++k) s.i(20 + k, bd[2 + k]).i(30 + k, sa[2 + k] * M * K).i(40 + k, sb[2 + k] * K * N);
      if (count > 0) add_step(i, "matmul", std::move(s), {y, x, node.inputs[1], kNone}, groups_1d(count));
      details_[static_cast<size_t>(i)] = "matmul (one output per thread)";
      return;
    }
    case OpType::Conv: break;
  }
  throw Error(ErrorCode::Internal, "vulkan: no lowering for op " + std::string(op_name(node.op)));
}

bool overlaps(const Loc& a, const Loc& b) {
  return a.buffer == b.buffer && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

void VulkanExecutable::record() {
  const Graph& g = *graph_;
  VkDevice d = ctx_->device;
  // Descriptor sets: one per dispatch, all written now.
  uint32_t descriptors = 0;
  for (const Step& s : steps_) descriptors += static_cast<uint32_t>(s.bind.size());
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(descriptors, 1)};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = std::max<uint32_t>(static_cast<uint32_t>(steps_.size()), 1);
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
  for (const Step& s : steps_) {
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
    vkCmdCopyBuffer(cb, l.buffer == 0 ? arena_.buffer : weights_.buffer, staging_out_.buffer, 1, &c);
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
    return std::make_unique<VulkanExecutable>(std::move(graph), options);
  }
  std::vector<DeviceInfo> devices() const override { return Context::list(); }
};

}  // namespace
}  // namespace kiln::vk

namespace kiln {
void register_vulkan_backend(BackendRegistry& registry) {
  registry.add("vulkan", [] { return std::make_unique<vk::VulkanBackend>(); });
}
}  // namespace kiln
