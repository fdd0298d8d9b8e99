// Conv.
#include <limits>

#include "converter/op_importers.hpp"
#include "converter/window_attrs.hpp"

namespace kiln::onnx_import {

namespace {
// Conv's attributes, for input shape x and weight shape w (Conv and QLinearConv).
fb::ConvAttrsT conv_attributes(NodeContext& ctx, const Shape& x, const Shape& w) {
  const size_t r = spatial_rank(ctx, w, "the weight");
  if (x.size() != w.size())
    ctx.invalid("input shape " + shape_to_string(x) + " and weight shape " + shape_to_string(w) + " differ in rank");
  std::vector<int64_t> kernel = ctx.attrs().get_ints("kernel_shape").value_or(std::vector<int64_t>(w.begin() + 2, w.end()));
  if (kernel.size() != r)
    ctx.invalid("kernel_shape has " + std::to_string(kernel.size()) + " entries for " + std::to_string(r) + " spatial axes");
  const Window win = read_window(ctx, x, std::move(kernel));
  const int64_t group = ctx.attrs().get_int("group", 1);
  if (group < 1 || group > std::numeric_limits<int32_t>::max()) ctx.invalid("group must be positive");

  fb::ConvAttrsT attrs;
  attrs.kernel_shape = to_int32(win.kernel, ctx, "kernel_shape");
  attrs.strides = to_int32(win.strides, ctx, "strides");
  attrs.dilations = to_int32(win.dilations, ctx, "dilations");
  attrs.pads = to_int32(win.pads, ctx, "pads");
  attrs.group = static_cast<int32_t>(group);
  return attrs;
}
}  // namespace

void import_conv(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  fb::ConvAttrsT attrs = conv_attributes(ctx, ctx.shape(0), ctx.shape(1));
  std::vector<TensorId> inputs = {ctx.tensor(0), ctx.tensor(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.tensor(2));
  ctx.emit(OpType::Conv, std::move(inputs), make_attrs(std::move(attrs)));
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]): Kiln's
// quantized Conv (engine/core/quantized_ops.hpp); weights per tensor or per
// output channel.
void import_qlinear_conv(NodeContext& ctx) {
  ctx.require_inputs(8, 9);
  fb::ConvAttrsT attrs = conv_attributes(ctx, ctx.shape(0), ctx.shape(3));
  if (!ctx.is_constant(3)) ctx.unsupported("a weight computed at run time");
  const TensorId x = quantized_operand(ctx, 0, 1, 2, 1);
  const TensorId w = quantized_operand(ctx, 3, 4, 5, 0);
  std::vector<TensorId> inputs = {x, w};
  Graph& g = ctx.importer().graph();
  if (ctx.has_input(8)) inputs.push_back(quantized_bias(ctx, 8, g.tensor(x), g.tensor(w)));
  ctx.emit(OpType::Conv, std::move(inputs), make_attrs(std::move(attrs)));
  set_output_quantization(ctx, 6, 7);
}

}  // namespace kiln::onnx_import
