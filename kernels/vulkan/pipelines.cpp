#include "kernels/vulkan/pipelines.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/vulkan/shaders.hpp"
#include "kiln/error.hpp"

namespace kiln::vk {

Spec& Spec::i(uint32_t id, int64_t v) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    throw Error(ErrorCode::Unsupported,
                fmt::format("vulkan: a size or offset ({}) does not fit the shaders' 32-bit indices; use --backend cpu", v));
  entries.emplace_back(id, static_cast<uint32_t>(static_cast<int32_t>(v)));
  return *this;
}

Spec& Spec::axes(uint32_t first, std::span<const int64_t> values) {
  for (size_t k = 0; k < values.size(); ++k) i(first + static_cast<uint32_t>(k), values[k]);
  return *this;
}

const char* shader_name(Shader shader) {
  switch (shader) {
    case Shader::Activation: return "activation";
    case Shader::Batchnorm: return "batchnorm";
    case Shader::Binary: return "binary";
    case Shader::ConvDepthwise: return "conv_depthwise";
    case Shader::ConvDirect: return "conv_direct";
    case Shader::ConvGemm: return "conv_gemm";
    case Shader::Copy: return "copy";
    case Shader::GlobalPool: return "global_pool";
    case Shader::Matmul: return "matmul";
    case Shader::Pad: return "pad";
    case Shader::Pool: return "pool";
    case Shader::ReduceMean: return "reduce_mean";
    case Shader::Softmax: return "softmax";
  }
  return "?";
}

Spec& Spec::f(uint32_t id, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  entries.emplace_back(id, bits);
  return *this;
}

Pipelines::Pipelines(std::shared_ptr<Context> ctx, bool fp16_storage)
    : ctx_(std::move(ctx)), fp16_storage_(fp16_storage) {
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  check(vkCreatePipelineCache(ctx_->device, &ci, nullptr, &cache_), "creating a pipeline cache");
}

Pipelines::~Pipelines() {
  VkDevice d = ctx_->device;
  for (auto& [k, p] : pipelines_) vkDestroyPipeline(d, p, nullptr);
  for (auto& [n, l] : layouts_) {
    vkDestroyPipelineLayout(d, l.second, nullptr);
    vkDestroyDescriptorSetLayout(d, l.first, nullptr);
  }
  for (auto& [n, m] : modules_) vkDestroyShaderModule(d, m, nullptr);
  if (cache_) vkDestroyPipelineCache(d, cache_, nullptr);
}

VkShaderModule Pipelines::module(const std::string& shader) {
  if (auto it = modules_.find(shader); it != modules_.end()) return it->second;
  for (const ShaderBlob& b : shader_blobs()) {
    if (shader != b.name || b.fp16_storage != fp16_storage_) continue;
    VkShaderModuleCreateInfo ci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    ci.codeSize = b.bytes;
    ci.pCode = b.words;
    VkShaderModule m;
    check(vkCreateShaderModule(ctx_->device, &ci, nullptr, &m), ("creating shader module " + shader).c_str());
    modules_[shader] = m;
    return m;
  }
  throw Error(ErrorCode::Internal, fmt::format("vulkan: no embedded shader named '{}' ({} storage)", shader,
                                               fp16_storage_ ? "float16" : "float32"));
}

Pipeline Pipelines::get(Shader which, const Spec& spec, uint32_t bindings) {
  const std::string shader = shader_name(which);
  auto& layout = layouts_[bindings];
  if (!layout.first) {
    std::vector<VkDescriptorSetLayoutBinding> b(bindings);
    for (uint32_t i = 0; i < bindings; ++i) {
      b[i] = {};
      b[i].binding = i;
      b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      b[i].descriptorCount = 1;
      b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = bindings;
    dl.pBindings = b.data();
    check(vkCreateDescriptorSetLayout(ctx_->device, &dl, nullptr, &layout.first), "creating a descriptor set layout");
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &layout.first;
    check(vkCreatePipelineLayout(ctx_->device, &pl, nullptr, &layout.second), "creating a pipeline layout");
  }
  auto entries = spec.entries;
  std::sort(entries.begin(), entries.end());
  auto key = std::make_pair(shader, entries);
  auto it = pipelines_.find(key);
  if (it == pipelines_.end()) {
    std::vector<VkSpecializationMapEntry> map(entries.size());
    std::vector<uint32_t> data(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      map[i] = {entries[i].first, static_cast<uint32_t>(i * 4), 4};
      data[i] = entries[i].second;
    }
    VkSpecializationInfo si{};
    si.mapEntryCount = static_cast<uint32_t>(map.size());
    si.pMapEntries = map.data();
    si.dataSize = data.size() * 4;
    si.pData = data.data();
    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module(shader);
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = &si;
    ci.layout = layout.second;
    VkPipeline p;
    check(vkCreateComputePipelines(ctx_->device, cache_, 1, &ci, nullptr, &p),
          ("creating the compute pipeline for shader " + shader).c_str());
    it = pipelines_.emplace(std::move(key), p).first;
  }
  return {it->second, layout.second, layout.first};
}

}  // namespace kiln::vk
