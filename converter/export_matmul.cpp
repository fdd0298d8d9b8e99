// Gemm (with its fused activation after it) and MatMul.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_matmul(Exporter& ex, const Node& n) {
  if (n.op == OpType::MatMul) {
    ex.add_node("MatMul", n.name, ex.inputs(n), {ex.output(n.outputs[0])});
    return;
  }
  const auto& a = attrs_as<fb::GemmAttrsT>(n);
  const std::string y = ex.activation_input(n, a.activation);
  auto& node = ex.add_node("Gemm", n.name, ex.inputs(n), {y});
  set_float(node, "alpha", a.alpha);
  set_float(node, "beta", a.beta);
  set_int(node, "transA", a.trans_a ? 1 : 0);
  set_int(node, "transB", a.trans_b ? 1 : 0);
  ex.emit_activation(n, a.activation, y);
}

}  // namespace kiln::onnx_export
