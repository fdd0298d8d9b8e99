#pragma once
// Reference kernels: plain, obviously correct loops (float32, optionally
// accumulating in double: ReferencePrecision, and integer
// arithmetic for quantized tensors: kernels/reference/quantized.hpp), one file per op
// family (engine/core/op_info.hpp). They are the oracle for every optimised
// backend, so clarity wins over speed here (loop orders are chosen only so
// that real models finish in seconds). They allocate nothing: index
// arithmetic goes through fixed-capacity views (engine/core/strided_view.hpp),
// so Session::run allocates nothing either.
#include <span>

#include "engine/core/graph.hpp"
#include "kiln/kiln.hpp"

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
  // Float64: the float kernels accumulate in double (ReferencePrecision). The
  // convolution and matrix products then keep their partial sums in `scratch`,
  // held by the run context: at least accumulator_scratch(graph, node) doubles.
  ReferencePrecision accumulation = ReferencePrecision::Float32;
  std::span<double> scratch = {};

  bool in_double() const { return accumulation == ReferencePrecision::Float64; }
};

using KernelFn = void (*)(const KernelArgs&);

// The kernel for `op`; every OpType has one (a table checked at compile time).
KernelFn kernel_for(OpType op);

// Doubles of KernelArgs::scratch that `node` needs under Float64 accumulation
// (0 for the kernels that keep their sums in locals).
size_t accumulator_scratch(const Graph& graph, const Node& node);

// Scratch that is too small is a bug of the caller, not of the model.
inline std::span<double> checked_scratch(const KernelArgs& a, int64_t count) {
  if (a.scratch.size() < static_cast<size_t>(count)) {
    std::string m = "node '";
    m += a.node->name;
    m += "': float64 accumulator scratch too small";
    throw Error(ErrorCode::Internal, m);
  }
  return a.scratch;
}

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
