// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh: the same
// ONNX node a fused activation becomes.
#include "converter/op_exporters.hpp"
#include "engine/core/activation.hpp"

namespace kiln::onnx_export {

void export_activation(Exporter& ex, const Node& n) {
  const fb::FusedActivation form = fused_form_of(n);
  if (form.kind() == fb::ActivationKind::None) no_onnx_form(n, "the writer has no mapping for it");
  ex.emit_activation(n, form, ex.input(n.inputs.at(0)));
}

}  // namespace kiln::onnx_export
