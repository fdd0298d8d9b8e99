// Gemm, MatMul.
#include "converter/op_importers.hpp"

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

}  // namespace kiln::onnx_import
