// Softmax. Kiln's pre-opset-13 meaning (jointly over every axis from `axis`
// on) equals the one-axis form written here only when `axis` is the last.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_softmax(Exporter& ex, const Node& n) {
  const auto& a = attrs_as<fb::SoftmaxAttrsT>(n);
  const auto rank = static_cast<int>(ex.graph().shape(n.inputs[0]).size());
  const int axis = a.axis < 0 ? a.axis + rank : a.axis;
  if (a.over_trailing_axes && axis != rank - 1)
    no_onnx_form(n, "a Softmax over all axes from " + std::to_string(axis) + " on exists in opsets before 13 only");
  set_int(ex.add_node("Softmax", n.name, ex.inputs(n), {ex.output(n.outputs[0])}), "axis", axis);
}

}  // namespace kiln::onnx_export
