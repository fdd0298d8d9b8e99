// Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include <algorithm>
#include <limits>

#include "converter/op_importers.hpp"

namespace kiln::onnx_import {

namespace {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
};

// Reads strides and dilations (default 1) and the padding, resolving auto_pad
// into explicit pads from the static input shape.
Window read_window(NodeContext& ctx, const Shape& x, std::vector<int64_t> kernel) {
  const Attributes& a = ctx.attrs();
  const size_t r = kernel.size();
  Window w;
  w.kernel = std::move(kernel);
  w.strides = a.get_ints("strides").value_or(std::vector<int64_t>(r, 1));
  w.dilations = a.get_ints("dilations").value_or(std::vector<int64_t>(r, 1));
  if (w.strides.size() != r) ctx.invalid("strides has " + std::to_string(w.strides.size()) + " entries for " +
                                         std::to_string(r) + " spatial axes");
  if (w.dilations.size() != r) ctx.invalid("dilations has " + std::to_string(w.dilations.size()) + " entries for " +
                                           std::to_string(r) + " spatial axes");
  for (size_t i = 0; i < r; ++i) {
    if (w.kernel[i] < 1) ctx.invalid("kernel sizes must be positive");
    if (w.strides[i] < 1) ctx.invalid("strides must be positive");
    if (w.dilations[i] < 1) ctx.invalid("dilations must be positive");
  }
  const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    w.pads = a.get_ints("pads").value_or(std::vector<int64_t>(2 * r, 0));
    if (w.pads.size() != 2 * r)
      ctx.invalid("pads has " + std::to_string(w.pads.size()) + " entries, expected " + std::to_string(2 * r));
  } else if (auto_pad == "VALID") {
    w.pads.assign(2 * r, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // Output size ceil(in / stride); the total padding that needs is split
    // evenly, the odd pixel going at the end (SAME_UPPER) or the start (SAME_LOWER).
    w.pads.assign(2 * r, 0);
    for (size_t i = 0; i < r; ++i) {
      const int64_t in = x[2 + i];
      const int64_t out = (in + w.strides[i] - 1) / w.strides[i];
      const int64_t effective_kernel = (w.kernel[i] - 1) * w.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + effective_kernel - in);
      const int64_t small = total / 2, big = total - small;
      w.pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + r] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else {
    ctx.unsupported("attribute auto_pad = '" + auto_pad +
                    "' is not supported (NOTSET, VALID, SAME_UPPER and SAME_LOWER are)");
  }
  return w;
}

// The number of spatial axes of an (N, C, spatial...) tensor; 1 to 3.
size_t spatial_rank(NodeContext& ctx, const Shape& x, const char* which) {
  if (x.size() < 3) ctx.invalid(std::string(which) + " has shape " + shape_to_string(x) + "; expected (N, C, spatial...)");
  const size_t r = x.size() - 2;
  if (r > 3)
    ctx.unsupported(std::to_string(r) + " spatial dimensions (" + which + " shape " + shape_to_string(x) +
                    "); Kiln supports 1 to 3");
  return r;
}

}  // namespace

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

}  // namespace kiln::onnx_import
