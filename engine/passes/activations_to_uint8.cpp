// Int8 activations as uint8, for backends whose integer kernels read uint8
// (cpu): an int8 tensor with zero point z holds the same real values as the
// uint8 tensor q + 128 with zero point z + 128, and every quantized op depends
// only on q − z, so results keep their bits. Graph inputs and outputs keep
// their dtype (the ops next to them run with mixed types); weights are
// constants and keep theirs.
#include "engine/passes/passes.hpp"

namespace kiln {

int activations_to_uint8(Graph& g) {
  int rewritten = 0;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    TensorInfo& t = g.tensors[i];
    const auto id = static_cast<TensorId>(i);
    if (t.dtype != DataType::Int8 || t.is_constant() || !t.quant || t.quant->per_axis() || g.is_graph_input(id) ||
        g.is_graph_output(id))
      continue;
    t.dtype = DataType::UInt8;
    t.quant->zero_point[0] += 128;
    ++rewritten;
  }
  return rewritten;
}

}  // namespace kiln
