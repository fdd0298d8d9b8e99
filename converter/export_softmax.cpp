// Softmax. Kiln's pre-opset-13 meaning (jointly over every axis from `axis`
// on) is the one-axis form when the axes after `axis` have size 1, and else
// a Softmax over the second axis of the input flattened at `axis`.
#include "converter/op_exporters.hpp"

namespace kiln::onnx_export {

void export_softmax(Exporter& ex, const Node& n) {
  const auto& a = attrs_as<fb::SoftmaxAttrsT>(n);
  const Shape& shape = ex.graph().shape(n.inputs[0]);
  const auto rank = static_cast<int>(shape.size());
  const int axis = a.axis < 0 ? a.axis + rank : a.axis;
  bool one_axis = !a.over_trailing_axes;
  if (!one_axis) {
    int64_t trailing = 1;
    for (int d = axis + 1; d < rank; ++d) trailing *= shape[static_cast<size_t>(d)];
    one_axis = trailing == 1;
  }
  const std::string x = ex.input(n.inputs[0]);
  const std::string& y = ex.output(n.outputs[0]);
  if (one_axis) {
    set_int(ex.add_node("Softmax", n.name, {x}, {y}), "axis", axis);
    return;
  }
  const std::string flat = ex.fresh_name(y + "_flat"), soft = ex.fresh_name(y + "_flat_softmax");
  set_int(ex.add_node("Flatten", n.name + "_flatten", {x}, {flat}), "axis", axis);
  set_int(ex.add_node("Softmax", n.name, {flat}, {soft}), "axis", 1);
  ex.add_node("Reshape", n.name + "_reshape", {soft, ex.ints_initializer(n.name + "_shape", shape)}, {y});
}

}  // namespace kiln::onnx_export
