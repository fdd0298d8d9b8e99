// Add, Sub, Mul, Div.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

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

// com.microsoft QLinearAdd(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): Kiln's quantized Add.
void import_qlinear_add(NodeContext& ctx) {
  ctx.require_inputs(7, 8);
  const TensorId a = quantized_operand(ctx, 0, 1, 2, 1);
  const TensorId b = quantized_operand(ctx, 3, 4, 5, 1);
  ctx.emit(OpType::Add, {a, b}, make_attrs(fb::BinaryAttrsT{}));
  set_output_quantization(ctx, 6, 7);
}

}  // namespace kiln::onnx_import
