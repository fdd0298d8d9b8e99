// Gemm, MatMul, ReduceMean, Softmax.
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

void import_gemm(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  const Attributes& a = ctx.attrs();
  fb::GemmAttrsT attrs;
  attrs.alpha = a.get_float("alpha", 1.0f);
  attrs.beta = a.get_float("beta", 1.0f);
  attrs.trans_a = a.get_int("transA", 0) != 0;
  attrs.trans_b = a.get_int("transB", 0) != 0;
  // Opsets before 7 had a `broadcast` flag for C; numpy broadcasting (checked
  // by shape inference) accepts every C those allowed.
  std::vector<TensorId> inputs = {ctx.tensor(0), ctx.tensor(1)};
  if (ctx.has_input(2)) inputs.push_back(ctx.tensor(2));
  ctx.emit(OpType::Gemm, std::move(inputs), make_attrs(attrs));
}

void import_matmul(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.emit(OpType::MatMul, {ctx.tensor(0), ctx.tensor(1)}, {});
}

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
