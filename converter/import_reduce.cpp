// ReduceMean.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

void import_reduce_mean(NodeContext& ctx) {
  // The axes: an attribute before opset 18, an optional constant input from 18.
  ctx.require_inputs(1, ctx.opset() >= 18 ? 2 : 1);
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  fb::ReduceAttrsT attrs;
  const std::vector<int64_t> listed = ctx.opset() >= 18 ? (ctx.has_input(1) ? ctx.constant_ints(1, "axes")
                                                                             : std::vector<int64_t>{})
                                                        : ctx.attrs().get_ints("axes").value_or(std::vector<int64_t>{});
  if (listed.empty() && ctx.attrs().get_int("noop_with_empty_axes", 0) != 0) {
    // Opset 18's "no axes: no reduction".
    ctx.emit(OpType::Identity, {ctx.tensor(0)}, {});
    return;
  }
  // No axes (or an empty list) reduces over every axis, as in Kiln.
  const std::vector<int64_t> axes = normalize_axes(listed, rank, ctx.where());
  attrs.axes = to_int32(axes, ctx, "axes");
  attrs.keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  ctx.emit(OpType::ReduceMean, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

}  // namespace kiln::onnx_import
