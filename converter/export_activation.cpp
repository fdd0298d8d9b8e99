// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh: the same
// ONNX node a fused activation becomes.
#include "converter/op_exporters.hpp"
#include "engine/core/activation.hpp"

namespace kiln::onnx_export {

void export_activation(Exporter& ex, const Node& n) {
  ex.emit_activation(n, fused_form_of(n), ex.input(n.inputs.at(0)));
}

}  // namespace kiln::onnx_export
