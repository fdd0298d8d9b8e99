// Conv, with its fused activation as an explicit node after it.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_conv(Exporter& ex, const Node& n) {
  const auto& a = attrs_as<fb::ConvAttrsT>(n);
  const std::string y = ex.activation_input(n, a.activation);
  auto& node = ex.add_node("Conv", n.name, ex.inputs(n), {y});
  set_ints(node, "kernel_shape", a.kernel_shape);
  set_ints(node, "strides", a.strides);
  set_ints(node, "dilations", a.dilations);
  set_ints(node, "pads", a.pads);
  set_int(node, "group", a.group);
  ex.emit_activation(n, a.activation, y);
}

}  // namespace kiln::onnx_export
