// Softmax.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

void import_softmax(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  const bool legacy = ctx.opset() < 13;
  fb::SoftmaxAttrsT attrs;
  // Opsets 1-12 coerce the input to 2-D at `axis` (default 1) and normalise
  // each row, i.e. jointly over every axis from `axis` on; 13+ normalise
  // along the one axis (default -1).
  attrs.axis = static_cast<int32_t>(normalize_axis(ctx.attrs().get_int("axis", legacy ? 1 : -1), rank, ctx.where()));
  attrs.over_trailing_axes = legacy;
  ctx.emit(OpType::Softmax, {ctx.tensor(0)}, make_attrs(attrs));
}

}  // namespace kiln::onnx_import
