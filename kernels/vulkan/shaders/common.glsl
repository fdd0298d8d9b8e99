// Shared by every Kiln compute shader (included after #version).
#include "spec_ids.h"
// Shapes arrive as specialization constants, so each pipeline is compiled for
// one layer shape and the driver can fold the index arithmetic.

// Storage type. Every shader is compiled twice (kernels/vulkan/CMakeLists.txt):
// as is, with float32 buffers, and with -DKILN_FP16_STORAGE, where every
// storage buffer (activations, weights, biases) holds float16. Only the
// storage changes: shaders load with float(...) into float32, compute and
// accumulate in float32 (shared memory included) and store with STORE_T(...)
// (rounding is the device's: nearest-even on lavapipe, but Vulkan lets a device
// round toward zero unless told otherwise). GL_EXT_shader_16bit_storage needs only the
// device's storageBuffer16BitAccess feature, not shaderFloat16 (no half arithmetic).
#ifdef KILN_FP16_STORAGE
#extension GL_EXT_shader_16bit_storage : require
#define STORE_T float16_t
#else
#define STORE_T float
#endif

// The element a thread handles in a 1-D launch spread over a 2-D grid (the
// host splits large launches into gx * gy groups of gl_WorkGroupSize.x).
uint flat_index() {
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}

// The fused activations of engine/core/activation.hpp (ACT_* kinds of spec_ids.h).
float activate(float x, int kind, float a, float b) {
  if (kind == ACT_RELU) return max(x, 0.0);
  if (kind == ACT_CLIP) return max(min(x, b), a);
  if (kind == ACT_LEAKY_RELU) return x >= 0.0 ? x : a * x;
  if (kind == ACT_SIGMOID) return 1.0 / (1.0 + exp(-x));
  if (kind == ACT_HARD_SIGMOID) return clamp(a * x + b, 0.0, 1.0);
  if (kind == ACT_HARD_SWISH) return x * clamp((1.0 / 6.0) * x + 0.5, 0.0, 1.0);
  // tanh through exp overflows to inf/inf for large |x|; tanh(15) is 1 in float.
  if (kind == ACT_TANH) return tanh(clamp(x, -15.0, 15.0));
  return x;
}
