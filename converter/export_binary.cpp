// Add, Sub, Mul, Div (ONNX broadcasts the same way), with the fused activation after.
#include "converter/op_exporters.hpp"
#include "engine/core/op_info.hpp"

namespace kiln::onnx_export {

void export_binary(Exporter& ex, const Node& n) {
  const auto& a = attrs_as<fb::BinaryAttrsT>(n);
  const std::string y = ex.activation_input(n, a.activation);
  ex.add_node(std::string(op_name(n.op)), n.name, ex.inputs(n), {y});
  ex.emit_activation(n, a.activation, y);
}

}  // namespace kiln::onnx_export
