#pragma once
// Reference kernels: plain, obviously correct float32 loops, one function per
// operator family. They are the oracle for every optimised backend, so clarity
// wins over speed here (loop orders are chosen only so that real models finish
// in seconds).
#include <span>

#include "engine/core/graph.hpp"

namespace kiln::reference {

struct InputView {
  const float* data;
  const Shape* shape;
};

struct OutputView {
  float* data;
  const Shape* shape;
};

// Everything a kernel sees. Outputs may alias inputs for elementwise and
// reshape-like ops (see engine/runtime/memory_planner.hpp).
struct KernelArgs {
  const Node* node;
  std::span<const InputView> inputs;
  std::span<const OutputView> outputs;
};

using KernelFn = void (*)(const KernelArgs&);

// The kernel for `op`; every OpType has one.
KernelFn kernel_for(OpType op);

void conv(const KernelArgs& a);
void max_pool(const KernelArgs& a);
void average_pool(const KernelArgs& a);
void global_average_pool(const KernelArgs& a);
void global_max_pool(const KernelArgs& a);
void batch_normalization(const KernelArgs& a);
void unary_activation(const KernelArgs& a);
void binary(const KernelArgs& a);
void gemm(const KernelArgs& a);
void matmul(const KernelArgs& a);
void copy(const KernelArgs& a);  // Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
void transpose(const KernelArgs& a);
void concat(const KernelArgs& a);
void split(const KernelArgs& a);
void slice(const KernelArgs& a);
void pad(const KernelArgs& a);
void reduce_mean(const KernelArgs& a);
void softmax(const KernelArgs& a);

}  // namespace kiln::reference
