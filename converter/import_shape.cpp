// Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout.
// Parameters that opsets moved from attributes to inputs (Reshape's shape,
// Squeeze and Unsqueeze's axes) are read from either, and must be known at
// conversion time.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

void import_flatten(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -rank || axis > rank)
    ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  fb::FlattenAttrsT attrs;
  attrs.axis = static_cast<int32_t>(axis);
  ctx.emit(OpType::Flatten, {ctx.tensor(0)}, make_attrs(attrs));
}

void import_reshape(NodeContext& ctx) {
  std::vector<int64_t> target;
  if (ctx.opset() < 5) {
    ctx.require_inputs(1, 1);
    target = required_ints(ctx, "shape");
  } else {
    ctx.require_inputs(2, 2);
    target = ctx.constant_ints(1, "shape");
  }
  const Shape input = ctx.shape(0);
  const bool allowzero = ctx.attrs().get_int("allowzero", 0) != 0;
  target = ctx.importer().adjust_reshape_batch(input, std::move(target), ctx.where());
  fb::ReshapeAttrsT attrs;
  attrs.shape = resolve_reshape(input, target, allowzero, ctx.where());
  ctx.emit(OpType::Reshape, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

void import_squeeze(NodeContext& ctx) {
  std::vector<int64_t> axes;
  if (ctx.opset() < 13) {
    ctx.require_inputs(1, 1);
    axes = ctx.attrs().get_ints("axes").value_or(std::vector<int64_t>{});
  } else {
    ctx.require_inputs(1, 2);
    if (ctx.has_input(1)) axes = ctx.constant_ints(1, "axes");
  }
  std::vector<int64_t> resolved;
  squeeze_shape(ctx.shape(0), axes, ctx.where(), &resolved);
  fb::AxesAttrsT attrs;
  attrs.axes = to_int32(resolved, ctx, "axes");
  ctx.emit(OpType::Squeeze, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

void import_unsqueeze(NodeContext& ctx) {
  std::vector<int64_t> axes;
  if (ctx.opset() < 13) {
    ctx.require_inputs(1, 1);
    axes = required_ints(ctx, "axes");
  } else {
    ctx.require_inputs(2, 2);
    axes = ctx.constant_ints(1, "axes");
  }
  std::vector<int64_t> resolved;
  unsqueeze_shape(ctx.shape(0), axes, ctx.where(), &resolved);
  fb::AxesAttrsT attrs;
  attrs.axes = to_int32(resolved, ctx, "axes");
  ctx.emit(OpType::Unsqueeze, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
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
