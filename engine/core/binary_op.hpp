#pragma once
// The arithmetic of the binary family (Add, Sub, Mul, Div) as kernels take
// it: one enum for the CPU's SIMD kernels and the CUDA kernels (the Vulkan
// shaders number it the same, shaders/spec_ids.h). No dependencies, so that
// device code can use it; binary_op_of() maps an op to it (op_info.hpp).
#include <cstdint>

namespace kiln {

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div };

}  // namespace kiln
