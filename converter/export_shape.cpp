// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: no data moves.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_shape(Exporter& ex, const Node& n) {
  const std::string x = ex.input(n.inputs.at(0));
  const std::string& y = ex.output(n.outputs.at(0));
  switch (n.op) {
    case OpType::Reshape:
      // Shapes are static: the output's own shape says it without 0 or -1.
      ex.add_node("Reshape", n.name, {x, ex.ints_initializer(n.name + "_shape", ex.graph().shape(n.outputs[0]))}, {y});
      return;
    case OpType::Flatten:
      set_int(ex.add_node("Flatten", n.name, {x}, {y}), "axis", attrs_as<fb::FlattenAttrsT>(n).axis);
      return;
    case OpType::Squeeze:
    case OpType::Unsqueeze: {
      const auto& axes = attrs_as<fb::AxesAttrsT>(n).axes;
      std::vector<std::string> in = {x};
      if (!axes.empty()) in.push_back(ex.ints_initializer(n.name + "_axes", {axes.begin(), axes.end()}));
      ex.add_node(n.op == OpType::Squeeze ? "Squeeze" : "Unsqueeze", n.name, in, {y});
      return;
    }
    case OpType::Identity:
    case OpType::Dropout:
      // Dropout at inference passes its input through.
      ex.add_node("Identity", n.name, {x}, {y});
      return;
    default:
      no_onnx_form(n, "the writer has no mapping for it");
  }
}

}  // namespace kiln::onnx_export
