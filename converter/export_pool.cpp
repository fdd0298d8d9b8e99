// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include <algorithm>

#include "converter/op_exporters.hpp"
#include "engine/core/op_info.hpp"

namespace kiln::onnx_export {

void export_pool(Exporter& ex, const Node& n) {
  const std::string op(op_name(n.op));
  if (n.op == OpType::GlobalAveragePool || n.op == OpType::GlobalMaxPool) {
    ex.add_node(op, n.name, ex.inputs(n), {ex.output(n.outputs[0])});
    return;
  }
  const auto& a = attrs_as<fb::PoolAttrsT>(n);
  const bool dilated = std::any_of(a.dilations.begin(), a.dilations.end(), [](int d) { return d != 1; });
  // AveragePool takes dilations from opset 19 only.
  if (n.op == OpType::AveragePool && dilated) no_onnx_form(n, "a dilated AveragePool needs opset 19");
  auto& node = ex.add_node(op, n.name, ex.inputs(n), {ex.output(n.outputs[0])});
  set_ints(node, "kernel_shape", a.kernel_shape);
  set_ints(node, "strides", a.strides);
  set_ints(node, "pads", a.pads);
  if (a.ceil_mode) set_int(node, "ceil_mode", 1);
  if (n.op == OpType::MaxPool && dilated) set_ints(node, "dilations", a.dilations);
  if (n.op == OpType::AveragePool) set_int(node, "count_include_pad", a.count_include_pad ? 1 : 0);
}

}  // namespace kiln::onnx_export
