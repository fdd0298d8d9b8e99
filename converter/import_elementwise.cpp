// Activations, Clip, Add/Sub/Mul/Div, BatchNormalization, Identity, Dropout.
#include <limits>

#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

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

void import_binary(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  const std::string& name = ctx.op();
  const OpType op = name == "Add" ? OpType::Add : name == "Sub" ? OpType::Sub : name == "Mul" ? OpType::Mul : OpType::Div;
  const TensorId a = ctx.tensor(0);
  TensorId b = ctx.tensor(1);
  if (ctx.opset() < 7 && ctx.attrs().get_int("broadcast", 0) != 0 && ctx.attrs().has("axis")) {
    // Legacy broadcasting (opsets 1-6): B's axes line up with A's from `axis`
    // on. Appending size-1 axes to B gives the same result under numpy rules.
    const Shape sa = ctx.shape(0), sb = ctx.shape(1);
    const auto rank_a = static_cast<int64_t>(sa.size()), rank_b = static_cast<int64_t>(sb.size());
    const int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), rank_a, ctx.where());
    const int64_t trailing = rank_a - axis - rank_b;
    if (trailing < 0)
      ctx.invalid("B of shape " + shape_to_string(sb) + " does not fit A of shape " + shape_to_string(sa) +
                  " at axis " + std::to_string(axis));
    if (trailing > 0) {
      fb::ReshapeAttrsT r;
      r.shape = sb;
      r.shape.insert(r.shape.end(), static_cast<size_t>(trailing), 1);
      b = ctx.emit_helper(OpType::Reshape, {b}, make_attrs(std::move(r)), "broadcast");
    }
  }
  ctx.emit(op, {a, b}, make_attrs(fb::BinaryAttrsT{}));
}

void import_batch_norm(NodeContext& ctx) {
  ctx.require_inputs(5, 5);
  const Attributes& a = ctx.attrs();
  if (a.get_int("training_mode", 0) != 0)
    ctx.unsupported("attribute training_mode = 1 is not supported; Kiln runs inference only");
  if (ctx.opset() < 9 && a.get_int("spatial", 1) == 0)
    ctx.unsupported("attribute spatial = 0 (opset " + std::to_string(ctx.opset()) +
                    ": per-element statistics) is not supported");
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (!ctx.proto().output(static_cast<int>(i)).empty())
      ctx.unsupported("it has " + std::to_string(ctx.num_outputs()) +
                      " outputs (running or saved statistics), which only training mode computes; Kiln runs "
                      "inference only");
  fb::BatchNormAttrsT attrs;
  attrs.epsilon = a.get_float("epsilon", 1e-5f);
  std::vector<TensorId> inputs;
  for (size_t i = 0; i < 5; ++i) inputs.push_back(ctx.tensor(i));
  ctx.emit(OpType::BatchNormalization, std::move(inputs), make_attrs(attrs));
}

void import_identity(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.emit(OpType::Identity, {ctx.tensor(0)}, {});
}

void import_dropout(NodeContext& ctx) {
  ctx.require_inputs(1, 3);
  if (ctx.opset() >= 12 && ctx.has_input(2)) {
    const HostTensor& t = ctx.constant(2, "training_mode");
    if (t.size() != 1) ctx.invalid("input 'training_mode' must hold one value");
    if (t.get_double(0) != 0.0)
      ctx.unsupported("input training_mode is true; Kiln runs inference only (Dropout must be the identity)");
  }
  if (ctx.output_used(1)) ctx.unsupported("its second output (mask) is used; Kiln's Dropout has no mask output");
  // The ratio input (opset 12+) does not matter in inference.
  ctx.emit(OpType::Dropout, {ctx.tensor(0)}, {});
}

}  // namespace kiln::onnx_import
