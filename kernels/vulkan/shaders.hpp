#pragma once
// The SPIR-V of kernels/vulkan/shaders/*.comp, compiled by glslc at build time
// and embedded by kernels/vulkan/CMakeLists.txt, twice each: float32 and
// float16 storage.
#include <cstddef>
#include <cstdint>
#include <span>

namespace kiln::vk {

struct ShaderBlob {
  const char* name;   // the .comp file's stem, e.g. "conv_gemm"
  bool fp16_storage;  // compiled with -DKILN_FP16_STORAGE: float16 buffers, float32 arithmetic
  const uint32_t* words;
  size_t bytes;
};

std::span<const ShaderBlob> shader_blobs();

}  // namespace kiln::vk
