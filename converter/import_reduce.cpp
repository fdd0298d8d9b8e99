// ReduceMean.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

void import_reduce_mean(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  fb::ReduceAttrsT attrs;
  // No axes (or an empty list) reduces over every axis, as in Kiln.
  const std::vector<int64_t> axes = normalize_axes(ctx.attrs().get_ints("axes").value_or(std::vector<int64_t>{}),
                                                   rank, ctx.where());
  attrs.axes = to_int32(axes, ctx, "axes");
  attrs.keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  ctx.emit(OpType::ReduceMean, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

}  // namespace kiln::onnx_import
