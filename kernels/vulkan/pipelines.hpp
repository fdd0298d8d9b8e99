#pragma once
// Compute pipelines, one per shader + specialization constants, created once
// and shared by every dispatch with the same shader and constants. Shapes are
// specialization constants (not push constants): each layer's pipeline is
// compiled for its shape, so the driver folds the index arithmetic and
// unrolls the small loops. Every shader binds storage buffers 0..n-1 (0 is
// the output) in descriptor set 0. A Pipelines object uses one storage variant
// of the shaders: float32, or float16 (--fp16-storage; see shaders/common.glsl).
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/vulkan/context.hpp"

namespace kiln::vk {

// Every compute shader, named after its shaders/<stem>.comp.
enum class Shader {
  Activation,
  Batchnorm,
  Binary,
  ConvDepthwise,
  ConvDirect,
  ConvGemm,
  Copy,
  GlobalPool,
  Matmul,
  Pad,
  Pool,
  ReduceMean,
  Softmax,
};
const char* shader_name(Shader shader);  // the .comp stem, e.g. "conv_gemm"

// Specialization constants by id (shaders/spec_ids.h names them); floats are
// passed as their bits.
struct Spec {
  std::vector<std::pair<uint32_t, uint32_t>> entries;
  // Throws kiln::Error if `v` does not fit in a 32-bit int.
  Spec& i(uint32_t id, int64_t v);
  Spec& f(uint32_t id, float v);
  // values[k] at id first + k.
  Spec& axes(uint32_t first, std::span<const int64_t> values);
};

struct Pipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
};

class Pipelines {
 public:
  Pipelines(std::shared_ptr<Context> ctx, bool fp16_storage);
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  // The pipeline for `shader` with `bindings` storage buffers.
  Pipeline get(Shader shader, const Spec& spec, uint32_t bindings);
  size_t size() const { return pipelines_.size(); }
  bool fp16_storage() const { return fp16_storage_; }

 private:
  VkShaderModule module(const std::string& shader);
  std::shared_ptr<Context> ctx_;
  bool fp16_storage_ = false;
  std::map<std::string, VkShaderModule> modules_;
  std::map<uint32_t, std::pair<VkDescriptorSetLayout, VkPipelineLayout>> layouts_;
  std::map<std::pair<std::string, std::vector<std::pair<uint32_t, uint32_t>>>, VkPipeline> pipelines_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
};

}  // namespace kiln::vk
