#pragma once
// How the CPU backend turns a graph into steps: it picks a memory layout per
// tensor (NHWC wherever the fast kernels run, NCHW elsewhere), inserts the
// layout conversions where a reader wants the other layout, fuses residual
// Adds into the preceding convolution, and binds each node to a SIMD kernel,
// a convolution algorithm, or — for ops without one — the reference kernel.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/runtime/backend.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"

namespace kiln::cpu {

enum class Layout : uint8_t { NCHW, NHWC };

}  // namespace kiln::cpu
