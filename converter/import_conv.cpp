// Conv.
#include <limits>

#include "converter/op_importers.hpp"
#include "converter/window_attrs.hpp"

namespace kiln::onnx_import {

void import_conv(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  const Shape x = ctx.shape(0);
  const Shape w = ctx.shape(1);
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
  std::vector<TensorId> inputs = {ctx.tensor(0), ctx.tensor(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.tensor(2));
  ctx.emit(OpType::Conv, std::move(inputs), make_attrs(std::move(attrs)));
}

}  // namespace kiln::onnx_import
