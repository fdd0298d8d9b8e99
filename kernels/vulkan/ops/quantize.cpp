// QuantizeLinear and DequantizeLinear: this backend has no integer kernels and
// runs quantized models in float32 (the graph is dequantized before lowering,
// engine/passes/dequantize_to_float.cpp); what is left here converts a
// quantized graph input or output, which it does not support.
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

void lower_quantize(Lowering& l, int i) {
  const Node& n = l.node(i);
  throw Error(ErrorCode::Unsupported, "node '" + n.name + "' (" + std::string(op_name(n.op)) +
                                          "): the vulkan backend runs quantized models in float32 and cannot take "
                                          "or return quantized (uint8/int8) graph inputs or outputs");
}

}  // namespace kiln::vk
