#pragma once
// Device-independent graph passes, run by the converter in the listed order
// (`kiln convert --no-optimize` skips them). Each is a small function that
// rewrites the graph and returns how many rewrites it made; each has its own
// test (tests/passes) checking the graph before/after and that outputs agree.
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/core/graph.hpp"

namespace kiln {

struct Pass {
  std::string_view name;
  std::string_view summary;
  int (*run)(Graph& graph);
};

// A pass that would make a constant this much larger than the constants it
// reads (a Pad, a broadcast, an outer product) leaves the graph as it is: its
// size comes from shapes, not bytes, and a few bytes of model could otherwise
// make the converter allocate, and the file store, up to 256 GiB.
inline constexpr uint64_t kMaxFoldGrowthBytes = uint64_t{16} << 20;

// Identity and Dropout (inference) nodes disappear; their readers use the input.
int eliminate_identity(Graph& graph);
// Nodes whose inputs are all constants are evaluated (on the reference backend)
// and replaced by constant tensors, unless their outputs are larger than their
// inputs and than kMaxFoldGrowthBytes (those stay nodes, computed at run time).
int fold_constants(Graph& graph);
// BatchNormalization right after a Conv or Gemm with constant weights is folded
// into that op's weights and bias (not when a Gemm's per-row bias would grow
// beyond kMaxFoldGrowthBytes).
int fold_batchnorm(Graph& graph);
// A Relu/Clip/LeakyRelu/Sigmoid/HardSigmoid/HardSwish/Tanh that is the only
// reader of a Conv, Gemm or Add/Sub/Mul/Div output moves into that op's epilogue.
int fuse_activations(Graph& graph);
// DequantizeLinear -> op -> QuantizeLinear patterns become quantized ops
// (engine/core/quantized_ops.hpp); DequantizeLinear of constants left over
// become float constants.
int fold_qdq(Graph& graph);
// Not a convert-time pass: how backends without integer kernels (vulkan,
// cuda) run a quantized model. Quantized constants are dequantized, quantized
// activations become float32 and the Q/DQ nodes between them go; quantized
// graph inputs and outputs keep their dtype behind a DequantizeLinear or
// QuantizeLinear.
bool has_quantized_tensors(const Graph& graph);
int dequantize_to_float(Graph& graph);
// Not a convert-time pass either: for backends whose integer kernels read
// uint8 (cpu), int8 activations (not graph inputs or outputs) become uint8
// with zero point + 128 — the same values, the same results bit for bit.
int activations_to_uint8(Graph& graph);
// Nodes none of whose outputs is read or is a graph output are removed.
int remove_dead_nodes(Graph& graph);

// The convert-time pipeline, in order.
std::span<const Pass> convert_time_passes();
const Pass* find_pass(std::string_view name);

// Runs the passes in order, validates the graph after each, and records
// "name: N rewrites" in graph.passes_applied.
void run_passes(Graph& graph, std::span<const Pass> passes);

}  // namespace kiln
