#pragma once
// Reference kernels: plain, obviously correct loops (float32, and integer
// arithmetic for quantized tensors: kernels/reference/quantized.hpp), one file per op
// family (engine/core/op_info.hpp). They are the oracle for every optimised
// backend, so clarity wins over speed here (loop orders are chosen only so
// that real models finish in seconds). They allocate nothing: index
// arithmetic goes through fixed-capacity views (engine/core/strided_view.hpp),
// so Session::run allocates nothing either.
#include <span>

#include "engine/core/graph.hpp"

namespace kiln::reference {

// `data` points at the tensor's bytes; for a tensor other than float32 the
// kernel reads `tensor` (dtype, quantization) and reinterprets them (as<T>()).
struct InputView {
  const float* data;
  const Shape* shape;
  const TensorInfo* tensor = nullptr;
  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(data); }
};

struct OutputView {
  float* data;
  const Shape* shape;
  const TensorInfo* tensor = nullptr;
  template <class T>
  T* as() const { return reinterpret_cast<T*>(data); }
};

// Everything a kernel sees. Outputs may alias inputs for elementwise and
// reshape-like ops (see engine/runtime/memory_planner.hpp).
struct KernelArgs {
  const Node* node;
  std::span<const InputView> inputs;
  std::span<const OutputView> outputs;
};

using KernelFn = void (*)(const KernelArgs&);

// The kernel for `op`; every OpType has one (a table checked at compile time).
KernelFn kernel_for(OpType op);

// conv.cpp
void conv(const KernelArgs& a);
// pool.cpp
void max_pool(const KernelArgs& a);
void average_pool(const KernelArgs& a);
void global_average_pool(const KernelArgs& a);
void global_max_pool(const KernelArgs& a);
// activation.cpp: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh
void activation(const KernelArgs& a);
// binary.cpp: Add, Sub, Mul, Div
void binary(const KernelArgs& a);
// batchnorm.cpp
void batch_normalization(const KernelArgs& a);
// softmax.cpp
void softmax(const KernelArgs& a);
// matmul.cpp
void gemm(const KernelArgs& a);
void matmul(const KernelArgs& a);
// reduce.cpp
void reduce_mean(const KernelArgs& a);
// shape.cpp: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
void copy(const KernelArgs& a);
// data_movement.cpp
void transpose(const KernelArgs& a);
void concat(const KernelArgs& a);
void split(const KernelArgs& a);
void slice(const KernelArgs& a);
void pad(const KernelArgs& a);
// quantize.cpp
void quantize_linear(const KernelArgs& a);
void dequantize_linear(const KernelArgs& a);

}  // namespace kiln::reference
