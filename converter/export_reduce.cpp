// ReduceMean (axes an attribute up to opset 17).
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_reduce(Exporter& ex, const Node& n) {
  const auto& a = attrs_as<fb::ReduceAttrsT>(n);
  auto& node = ex.add_node("ReduceMean", n.name, ex.inputs(n), {ex.output(n.outputs[0])});
  // No axes means every axis, in Kiln as in ONNX.
  if (!a.axes.empty()) set_ints(node, "axes", a.axes);
  set_int(node, "keepdims", a.keepdims ? 1 : 0);
}

}  // namespace kiln::onnx_export
