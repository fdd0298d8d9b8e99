// BatchNormalization (inference form: scale, bias, mean, variance).
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_batchnorm(Exporter& ex, const Node& n) {
  auto& node = ex.add_node("BatchNormalization", n.name, ex.inputs(n), {ex.output(n.outputs[0])});
  set_float(node, "epsilon", attrs_as<fb::BatchNormAttrsT>(n).epsilon);
}

}  // namespace kiln::onnx_export
