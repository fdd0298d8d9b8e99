// QuantizeLinear and DequantizeLinear: the quantized tensor's QuantParams
// (Q's output, DQ's input) become the scale and zero-point inputs, and a
// per-axis tensor's axis the `axis` attribute.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

namespace {

onnx::NodeProto& quant_node(Exporter& ex, const char* op, const std::string& name, const std::string& x,
                            TensorId quantized, const std::string& y) {
  const auto [scale, zero_point] = ex.quant_inputs(quantized);
  std::vector<std::string> in = {x, scale};
  if (!zero_point.empty()) in.push_back(zero_point);
  auto& node = ex.add_node(op, name, in, {y});
  const QuantParams& q = *ex.graph().tensor(quantized).quant;
  if (q.per_axis()) set_int(node, "axis", q.axis);
  return node;
}

}  // namespace

void export_quantize(Exporter& ex, const Node& n) {
  const TensorId x = n.inputs.at(0), y = n.outputs.at(0);
  if (n.op == OpType::DequantizeLinear) {
    quant_node(ex, "DequantizeLinear", n.name, ex.input(x), x, ex.output(y));
    return;
  }
  std::string real = ex.input(x);
  // Kiln's QuantizeLinear of a quantized tensor requantizes; ONNX goes through float.
  if (ex.graph().tensor(x).dtype != DataType::Float32) {
    real = ex.fresh_name(real + "_dequantized");
    quant_node(ex, "DequantizeLinear", n.name + "_dequantize", ex.input(x), x, real);
  }
  quant_node(ex, "QuantizeLinear", n.name, real, y, ex.output(y));
}

}  // namespace kiln::onnx_export
