// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include "converter/op_importers.hpp"
#include "converter/window_attrs.hpp"

namespace kiln::onnx_import {

void import_pool(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const bool is_max = ctx.op() == "MaxPool";
  const Shape x = ctx.shape(0);
  const size_t r = spatial_rank(ctx, x, "the input");
  const auto kernel = ctx.attrs().get_ints("kernel_shape");
  if (!kernel) ctx.invalid("attribute 'kernel_shape' is missing");
  if (kernel->size() != r)
    ctx.invalid("kernel_shape has " + std::to_string(kernel->size()) + " entries for " + std::to_string(r) +
                " spatial axes");
  if (is_max && ctx.output_used(1))
    ctx.unsupported("its second output (Indices) is used; Kiln's MaxPool computes values only");
  const Window win = read_window(ctx, x, *kernel);

  fb::PoolAttrsT attrs;
  attrs.kernel_shape = to_int32(win.kernel, ctx, "kernel_shape");
  attrs.strides = to_int32(win.strides, ctx, "strides");
  attrs.dilations = to_int32(win.dilations, ctx, "dilations");
  attrs.pads = to_int32(win.pads, ctx, "pads");
  attrs.ceil_mode = ctx.attrs().get_int("ceil_mode", 0) != 0;
  attrs.count_include_pad = !is_max && ctx.attrs().get_int("count_include_pad", 0) != 0;
  ctx.emit(is_max ? OpType::MaxPool : OpType::AveragePool, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

void import_global_pool(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  // Any number of spatial axes: the kernel reduces each (n, c) plane.
  if (ctx.shape(0).size() < 3) ctx.invalid("input shape " + shape_to_string(ctx.shape(0)) + " has no spatial axes");
  ctx.emit(ctx.op() == "GlobalMaxPool" ? OpType::GlobalMaxPool : OpType::GlobalAveragePool, {ctx.tensor(0)}, {});
}

// com.microsoft QLinearGlobalAveragePool(x, x_scale, x_zp, y_scale, y_zp), NCHW only.
void import_qlinear_global_pool(NodeContext& ctx) {
  ctx.require_inputs(4, 5);
  if (ctx.attrs().get_int("channels_last", 0) != 0) ctx.unsupported("channels_last = 1");
  if (ctx.shape(0).size() < 3) ctx.invalid("input shape " + shape_to_string(ctx.shape(0)) + " has no spatial axes");
  const TensorId x = quantized_operand(ctx, 0, 1, 2, 1);
  ctx.emit(OpType::GlobalAveragePool, {x}, {});
  set_output_quantization(ctx, 3, 4);
}

}  // namespace kiln::onnx_import
