#include <cstring>

#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

// Reshape-like ops move no data; the bytes are copied only where the memory
// planner could not give the output its input's bytes.
// A quantized output with other parameters than the input's is requantized.
void copy(const KernelArgs& a) {
  const int64_t n = element_count(*a.inputs[0].shape);
  if (is_quantized(a)) {
    const Requantization r = requantization(*a.inputs[0].tensor, *a.outputs[0].tensor);
    if (!r.identity) return requantize_elements(qin(a.inputs[0]), qout(a.outputs[0]), n, r);
  }
  const size_t elem = a.inputs[0].tensor ? dtype_size(a.inputs[0].tensor->dtype) : sizeof(float);
  if (a.outputs[0].data != a.inputs[0].data)
    std::memcpy(a.outputs[0].data, a.inputs[0].data, static_cast<size_t>(n) * elem);
}

}  // namespace kiln::reference
