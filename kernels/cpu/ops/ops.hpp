#pragma once
// The CPU backend's lowerings, one function per op family, each in
// ops/<family>.cpp; the backend's main file calls them through
// lowering_table (engine/runtime/lowering.hpp), indexed by op. A family
// without a SIMD kernel for some case hands the node to the reference kernel
// (Lowering::lower_with_reference).
#include <array>
#include <cstdint>
#include <memory>

#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/lowering.hpp"

namespace kiln::cpu {

KILN_DECLARE_FAMILY_LOWERINGS(Lowering);

// Before any node is lowered: which expand -> depthwise -> project chains run
// fused (ops/conv.cpp; fills l.chains and l.chain_of).
void plan_chains(Lowering& l);

// The int8 kernels' parameters of a quantized Add (the separate Add and the
// one fused into a convolution's epilogue).
QAddParams qadd_params(const QuantizedAdd& q);

// For a byte-for-byte op between uint8 tensors (max pool, concat): the 256
// values of quant::requantize from `from`'s parameters to `to`'s, exact since
// requantization is a function of the byte; null where the parameters agree.
using ByteTable = std::array<uint8_t, 256>;
std::shared_ptr<const ByteTable> requantization_table(const TensorInfo& from, const TensorInfo& to);

}  // namespace kiln::cpu
