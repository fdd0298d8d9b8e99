// Gemm and MatMul: matmul.comp, one output per thread; transposes are
// strides, MatMul's batch axes (up to 6) broadcast through views.
#include "engine/core/shape_inference.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

namespace {

void lower_gemm(Lowering& l, int i) {
  const Node& node = l.node(i);
  const auto& a = attrs_as<fb::GemmAttrsT>(node);
  const Shape& as = l.shape(node.inputs[0]);
  const Shape& bs = l.shape(node.inputs[1]);
  const int64_t count = element_count(l.shape(node.outputs[0]));
  const int64_t M = a.trans_a ? as[1] : as[0], K = a.trans_a ? as[0] : as[1], N = a.trans_b ? bs[0] : bs[1];
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_MATMUL_M, M).i(SPEC_MATMUL_N, N).i(SPEC_MATMUL_K, K);
  s.i(SPEC_MATMUL_A_SM, a.trans_a ? 1 : K).i(SPEC_MATMUL_A_SK, a.trans_a ? M : 1);
  s.i(SPEC_MATMUL_B_SK, a.trans_b ? 1 : N).i(SPEC_MATMUL_B_SN, a.trans_b ? K : 1);
  const bool has_c = node.inputs.size() > 2;
  int64_t csm = 0, csn = 0;
  if (has_c) {
    const StridedView c = broadcast_view(l.shape(node.inputs[2]), Shape{M, N});
    csm = c.strides[0];
    csn = c.strides[1];
  }
  s.i(SPEC_MATMUL_HAS_C, has_c).i(SPEC_MATMUL_C_SM, csm).i(SPEC_MATMUL_C_SN, csn);
  s.f(SPEC_MATMUL_ALPHA, a.alpha).f(SPEC_MATMUL_BETA, a.beta);
  s.i(SPEC_MATMUL_ACT_KIND, static_cast<int>(a.activation.kind()));
  s.f(SPEC_MATMUL_ACT_ALPHA, a.activation.alpha()).f(SPEC_MATMUL_ACT_BETA, a.activation.beta());
  if (count > 0)
    l.add_step(i, Shader::Matmul, std::move(s),
               {node.outputs[0], node.inputs[0], node.inputs[1], has_c ? node.inputs[2] : kNone}, groups_1d(count));
  l.set_detail(i, "gemm (one output per thread)");
}

void lower_batched_matmul(Lowering& l, int i) {
  const Node& node = l.node(i);
  const Shape& as = l.shape(node.inputs[0]);
  const Shape& bs = l.shape(node.inputs[1]);
  const int64_t count = element_count(l.shape(node.outputs[0]));
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2], K = as.back(), N = bs.size() == 1 ? 1 : bs.back();
  const Shape ba(as.begin(), as.size() > 2 ? as.end() - 2 : as.begin());
  const Shape bb(bs.begin(), bs.size() > 2 ? bs.end() - 2 : bs.begin());
  const Shape batch = broadcast_shapes(ba, bb, node.name);
  if (batch.size() > 6)
    throw Error(ErrorCode::Unsupported, "vulkan: MatMul '" + node.name + "' has more than 6 batch axes");
  const StridedView va = broadcast_view(ba, batch), vb = broadcast_view(bb, batch);
  const auto bd = right_aligned(batch, 1);
  const auto sa = right_aligned({va.strides, batch.size()}, 0), sb = right_aligned({vb.strides, batch.size()}, 0);
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_MATMUL_M, M).i(SPEC_MATMUL_N, N).i(SPEC_MATMUL_K, K);
  s.i(SPEC_MATMUL_A_SM, K).i(SPEC_MATMUL_A_SK, 1).i(SPEC_MATMUL_B_SK, N).i(SPEC_MATMUL_B_SN, 1);
  s.i(SPEC_MATMUL_HAS_C, 0).i(SPEC_MATMUL_ACT_KIND, 0).f(SPEC_MATMUL_ALPHA, 1.0f).f(SPEC_MATMUL_BETA, 0.0f);
  for (int k = 0; k < 6; ++k) {
    s.i(SPEC_MATMUL_BATCH_DIMS + k, bd[2 + k]);
    s.i(SPEC_MATMUL_A_BATCH_STRIDES + k, sa[2 + k] * M * K);
    s.i(SPEC_MATMUL_B_BATCH_STRIDES + k, sb[2 + k] * K * N);
  }
  if (count > 0)
    l.add_step(i, Shader::Matmul, std::move(s), {node.outputs[0], node.inputs[0], node.inputs[1], kNone},
               groups_1d(count));
  l.set_detail(i, "matmul (one output per thread)");
}

}  // namespace

void lower_matmul(Lowering& l, int i) {
  const Node& node = l.node(i);
  l.add_lowered_node(i, node.op, node.inputs, node.outputs);
  if (node.op == OpType::Gemm)
    lower_gemm(l, i);
  else
    lower_batched_matmul(l, i);
}

}  // namespace kiln::vk
