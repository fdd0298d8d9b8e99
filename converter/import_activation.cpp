// Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh.
#include <limits>

#include "converter/op_importers.hpp"

namespace kiln::onnx_import {

void import_activation(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const std::string& op = ctx.op();
  const TensorId x = ctx.tensor(0);
  if (op == "LeakyRelu") {
    fb::LeakyReluAttrsT a;
    a.alpha = ctx.attrs().get_float("alpha", 0.01f);
    ctx.emit(OpType::LeakyRelu, {x}, make_attrs(a));
  } else if (op == "HardSigmoid") {
    fb::HardSigmoidAttrsT a;
    a.alpha = ctx.attrs().get_float("alpha", 0.2f);
    a.beta = ctx.attrs().get_float("beta", 0.5f);
    ctx.emit(OpType::HardSigmoid, {x}, make_attrs(a));
  } else if (op == "Relu") {
    ctx.emit(OpType::Relu, {x}, {});
  } else if (op == "Sigmoid") {
    ctx.emit(OpType::Sigmoid, {x}, {});
  } else if (op == "Tanh") {
    ctx.emit(OpType::Tanh, {x}, {});
  } else {
    ctx.emit(OpType::HardSwish, {x}, {});
  }
}

void import_clip(NodeContext& ctx) {
  fb::ClipAttrsT a;
  if (ctx.opset() < 11) {
    // Attribute form; the defaults are float32's lowest and highest values.
    ctx.require_inputs(1, 1);
    a.min = ctx.attrs().get_float("min", std::numeric_limits<float>::lowest());
    a.max = ctx.attrs().get_float("max", std::numeric_limits<float>::max());
  } else {
    // Input form (exporters feed Constant nodes); an absent bound does not clip.
    ctx.require_inputs(1, 3);
    a.min = ctx.has_input(1) ? ctx.constant_float(1, "min") : -std::numeric_limits<float>::infinity();
    a.max = ctx.has_input(2) ? ctx.constant_float(2, "max") : std::numeric_limits<float>::infinity();
  }
  ctx.emit(OpType::Clip, {ctx.tensor(0)}, make_attrs(a));
}

}  // namespace kiln::onnx_import
