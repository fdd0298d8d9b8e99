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

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): Kiln's
// quantized MatMul, for a 2-D constant b (per tensor or per column).
void import_qlinear_matmul(NodeContext& ctx) {
  ctx.require_inputs(8, 8);
  if (!ctx.is_constant(3) || ctx.shape(3).size() != 2) ctx.unsupported("b must be a 2-D constant");
  const TensorId a = quantized_operand(ctx, 0, 1, 2, 1);
  const TensorId b = quantized_operand(ctx, 3, 4, 5, 1);
  ctx.emit(OpType::MatMul, {a, b}, {});
  set_output_quantization(ctx, 6, 7);
}

void import_matmul(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.emit(OpType::MatMul, {ctx.tensor(0), ctx.tensor(1)}, {});
}

}  // namespace kiln::onnx_import
