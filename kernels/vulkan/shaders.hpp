#pragma once
// The SPIR-V of kernels/vulkan/shaders/*.comp, compiled by glslc at build time
// and embedded by kernels/vulkan/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <span>

namespace kiln::vk {

struct ShaderBlob {
  const char* name;  // the .comp file's stem, e.g. "conv_gemm"
  const uint32_t* words;
  size_t bytes;
};

std::span<const ShaderBlob> shader_blobs();

}  // namespace kiln::vk
