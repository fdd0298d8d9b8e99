#pragma once
// Static facts about each operator: its name, how many inputs and outputs it
// takes and which attribute table it carries. Used by the loader's checks, the
// converter and `kiln inspect`.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "engine/core/binary_op.hpp"
#include "engine/core/graph.hpp"

namespace kiln {

// The op families: one grouping used in every folder, so that an op's
// reference kernel (kernels/reference/<family>.cpp), each backend's lowering
// (kernels/<backend>/ops/<family>.*), its kernel test
// (tests/kernels/<family>_test.cpp) and its importer
// (converter/import_<family>.cpp) are found by the same name.
enum class OpFamily : uint8_t {
  Conv,          // Conv
  Pool,          // MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
  Activation,    // Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh
  Binary,        // Add, Sub, Mul, Div (numpy broadcasting)
  BatchNorm,     // BatchNormalization
  Softmax,       // Softmax
  MatMul,        // Gemm, MatMul
  Reduce,        // ReduceMean
  Shape,         // Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: no data moves
  DataMovement,  // Transpose, Concat, Split, Slice, Pad
  Quantize,      // QuantizeLinear, DequantizeLinear
};
inline constexpr size_t kOpFamilyCount = 11;
// "conv", "pool", ..., "data_movement": the file-name stem of the family.
std::string_view family_name(OpFamily family);

constexpr OpFamily op_family(OpType op) {
  using O = OpType;
  using F = OpFamily;
  switch (op) {
    case O::Conv: return F::Conv;
    case O::MaxPool:
    case O::AveragePool:
    case O::GlobalAveragePool:
    case O::GlobalMaxPool: return F::Pool;
    case O::Relu:
    case O::Clip:
    case O::LeakyRelu:
    case O::Sigmoid:
    case O::HardSigmoid:
    case O::HardSwish:
    case O::Tanh: return F::Activation;
    case O::Add:
    case O::Sub:
    case O::Mul:
    case O::Div: return F::Binary;
    case O::BatchNormalization: return F::BatchNorm;
    case O::Softmax: return F::Softmax;
    case O::Gemm:
    case O::MatMul: return F::MatMul;
    case O::ReduceMean: return F::Reduce;
    case O::Reshape:
    case O::Flatten:
    case O::Squeeze:
    case O::Unsqueeze:
    case O::Identity:
    case O::Dropout: return F::Shape;
    case O::Transpose:
    case O::Concat:
    case O::Split:
    case O::Slice:
    case O::Pad: return F::DataMovement;
    case O::QuantizeLinear:
    case O::DequantizeLinear: return F::Quantize;
  }
  return F::Shape;  // unreachable for valid ops; -Wswitch flags a new op without a family
}

// The arithmetic of a binary-family op (Add for any other op).
constexpr BinaryOp binary_op_of(OpType op) {
  switch (op) {
    case OpType::Sub: return BinaryOp::Sub;
    case OpType::Mul: return BinaryOp::Mul;
    case OpType::Div: return BinaryOp::Div;
    default: return BinaryOp::Add;
  }
}

// One function per family: what a backend gives to lower (or run) every op.
template <class Fn>
struct PerFamily {
  Fn conv, pool, activation, binary, batchnorm, softmax, matmul, reduce, shape, data_movement, quantize;

  constexpr Fn operator[](OpFamily f) const {
    switch (f) {
      case OpFamily::Conv: return conv;
      case OpFamily::Pool: return pool;
      case OpFamily::Activation: return activation;
      case OpFamily::Binary: return binary;
      case OpFamily::BatchNorm: return batchnorm;
      case OpFamily::Softmax: return softmax;
      case OpFamily::MatMul: return matmul;
      case OpFamily::Reduce: return reduce;
      case OpFamily::Shape: return shape;
      case OpFamily::DataMovement: return data_movement;
      case OpFamily::Quantize: return quantize;
    }
    return nullptr;
  }
};

struct OpInfo {
  OpType op;
  std::string_view name;
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;  // -1: any number
  fb::Attributes attributes;  // NONE if the op has no attributes
  bool elementwise;  // output shape == (broadcast) input shape, one value per element
};

inline constexpr size_t kOpCount = static_cast<size_t>(fb::OpType::MAX) + 1;

// Whether a table of per-op rows (anything with an `op` member) lists every
// OpType exactly once, in OpType order: static_assert(covers_every_op_in_order(kTable)).
template <class Row, size_t N>
constexpr bool covers_every_op_in_order(const std::array<Row, N>& rows) {
  if (N != kOpCount) return false;
  for (size_t i = 0; i < N; ++i)
    if (static_cast<size_t>(rows[i].op) != i) return false;
  return true;
}

// A table indexed by OpType in which each op gets its family's entry
// (engine/runtime/lowering.hpp builds the backends' lowering tables with it).
template <class Fn>
constexpr std::array<Fn, kOpCount> table_by_op(const PerFamily<Fn>& families) {
  std::array<Fn, kOpCount> t{};
  for (size_t i = 0; i < kOpCount; ++i) t[i] = families[op_family(static_cast<OpType>(i))];
  return t;
}

const OpInfo& op_info(OpType op);
std::string_view op_name(OpType op);
std::optional<OpType> op_from_name(std::string_view name);
std::span<const OpInfo> all_ops();

// Reshape-like ops move no data: output bytes equal input bytes.
bool is_reshape_like(OpType op);
bool is_unary_activation(OpType op);

// Human-readable attribute summary, e.g. "k=3x3 s=2x2 p=0,0,1,1 g=32 act=Clip(0,6)".
std::string describe_attributes(const Node& node);
std::string describe_activation(const fb::FusedActivation& act);

// Multiply-adds counted as 2 FLOPs; elementwise ops as 1 per output element.
int64_t node_flops(const Graph& graph, const Node& node);
// Number of constant parameters a node reads (weights, biases, BN stats...).
int64_t node_params(const Graph& graph, const Node& node);

}  // namespace kiln
