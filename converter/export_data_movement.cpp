// Transpose, Concat, Split, Slice, Pad; the parameters opset 13 takes as
// inputs (Split's sizes, Slice's starts/ends/axes/steps, Pad's pads) become
// int64 initializers.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_data_movement(Exporter& ex, const Node& n) {
  std::vector<std::string> y;
  for (TensorId t : n.outputs) y.push_back(ex.output(t));
  switch (n.op) {
    case OpType::Transpose:
      set_ints(ex.add_node("Transpose", n.name, ex.inputs(n), y), "perm", attrs_as<fb::TransposeAttrsT>(n).perm);
      return;
    case OpType::Concat:
      set_int(ex.add_node("Concat", n.name, ex.inputs(n), y), "axis", attrs_as<fb::ConcatAttrsT>(n).axis);
      return;
    case OpType::Split: {
      const auto& a = attrs_as<fb::SplitAttrsT>(n);
      const std::string sizes = ex.ints_initializer(n.name + "_split", a.sizes);
      set_int(ex.add_node("Split", n.name, {ex.input(n.inputs[0]), sizes}, y), "axis", a.axis);
      return;
    }
    case OpType::Slice: {
      const auto& a = attrs_as<fb::SliceAttrsT>(n);
      ex.add_node("Slice", n.name,
                  {ex.input(n.inputs[0]), ex.ints_initializer(n.name + "_starts", a.starts),
                   ex.ints_initializer(n.name + "_ends", a.ends),
                   ex.ints_initializer(n.name + "_axes", {a.axes.begin(), a.axes.end()}),
                   ex.ints_initializer(n.name + "_steps", a.steps)},
                  y);
      return;
    }
    case OpType::Pad: {
      const auto& a = attrs_as<fb::PadAttrsT>(n);
      ex.add_node("Pad", n.name,
                  {ex.input(n.inputs[0]), ex.ints_initializer(n.name + "_pads", a.pads),
                   ex.float_initializer(n.name + "_value", a.value)},
                  y);
      return;
    }
    default:
      no_onnx_form(n, "the writer has no mapping for it");
  }
}

}  // namespace kiln::onnx_export
