// Gemm with a constant B and bias (a fully connected layer) on the packed
// GEMM of the convolutions, quantized Gemm/MatMul with a constant B on the
// int8 GEMM; other forms on the reference kernel.
#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

bool lower_packed_gemm(Lowering& l, int i) {
  const Node& node = l.node(i);
  if (node.op != OpType::Gemm) return false;
  const auto& a = attrs_as<fb::GemmAttrsT>(node);
  const TensorId x = node.inputs[0], w = node.inputs[1], out = node.outputs[0];
  if (a.trans_a || a.alpha != 1.0f || !l.is_const(w)) return false;
  const Shape& ws = l.shape(w);
  const int64_t K = a.trans_b ? ws[1] : ws[0], N = a.trans_b ? ws[0] : ws[1];
  const int64_t M = l.shape(x)[0];
  const float* bias = nullptr;
  if (node.inputs.size() > 2) {
    const TensorId c = node.inputs[2];
    const Shape& cs = l.shape(c);
    if (!l.is_const(c) || a.beta != 1.0f || element_count(cs) != N || (cs.size() == 2 && cs[0] != 1)) return false;
    bias = l.graph().tensor(c).constant->floats();
  }
  const float* wd = l.graph().tensor(w).constant->floats();
  const bool tb = a.trans_b;
  const PackedB* b = &l.keep(PackedB(static_cast<int>(K), static_cast<int>(N), l.simd().nr, [&](int k, int j) {
    return tb ? wd[static_cast<size_t>(j) * K + k] : wd[static_cast<size_t>(k) * N + j];
  }));
  const Activation act = to_activation(a.activation);
  l.set_detail(i, "packed gemm");
  l.add_step(i, node.op, {x}, {out}, [&l, b, x, out, bias, act, K, N, M](RunContext& f) {
    GemmProblem p;
    p.seg_len = static_cast<int>(K);
    p.b = b;
    p.bias = bias;
    p.act = act;
    p.c = f.ptr(out);
    p.ldc = static_cast<size_t>(N);
    const float* xa = f.ptr(x);
    auto task = [&](size_t t) {
      gemm_rows(l.simd(), p, 0, static_cast<int>(M), static_cast<int>(t), static_cast<int>(t) + 1,
                [&](int m, int) { return xa + static_cast<size_t>(m) * K; });
    };
    f.pool().parallel_for(static_cast<size_t>(b->panels()), task);
  });
  return true;
}

// A quantized Gemm (no transposed A, unit alpha and beta) or MatMul with a
// constant 2-D B, uint8 in and out: the int8 GEMM of the 1×1 convolutions,
// the rows of A as its pixels and B's columns as its output channels.
bool lower_quantized_product(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], w = node.inputs[1], out = node.outputs[0];
  const Shape& xs = l.shape(x);
  const Shape& ws = l.shape(w);
  if (g.tensor(x).dtype != DataType::UInt8 || g.tensor(out).dtype != DataType::UInt8 || !l.is_const(w) ||
      ws.size() != 2 || xs.size() < 2)
    return false;
  bool trans_b = false;
  fb::FusedActivation act;
  const TensorInfo* bias = nullptr;
  if (node.op == OpType::Gemm) {
    const auto& a = attrs_as<fb::GemmAttrsT>(node);
    if (a.trans_a || a.alpha != 1.0f || xs.size() != 2) return false;
    if (node.inputs.size() > 2) {
      const TensorInfo& c = g.tensor(node.inputs[2]);
      if (!c.is_constant() || c.dtype != DataType::Int32 || a.beta != 1.0f) return false;
      bias = &c;
    }
    trans_b = a.trans_b;
    act = a.activation;
  } else if (node.op != OpType::MatMul || node.inputs.size() != 2) {
    return false;
  }
  const int64_t K = trans_b ? ws[1] : ws[0], N = trans_b ? ws[0] : ws[1];
  if (xs.back() != K) return false;
  const int64_t M = element_count(xs) / K;
  if (M > INT32_MAX || K > INT32_MAX || N > INT32_MAX) return false;
  QConvLayer layer;
  layer.shape.N = static_cast<int>(M);
  layer.shape.C = static_cast<int>(K);
  layer.shape.K = static_cast<int>(N);
  layer.x = &g.tensor(x);
  layer.w = &g.tensor(w);
  layer.w_in_by_out = !trans_b;
  layer.bias = bias;
  layer.y = &g.tensor(out);
  layer.act = act;
  layer.kernels = &l.int8();
  layer.threads = l.threads();
  if (!qconv_supported(layer)) return false;
  std::unique_ptr<QConvKernel> kernel = prepare_qgemm(layer);
  // Rows of A are contiguous only in the tensor's own (NCHW) order.
  const TensorId xin = l.in_layout(x, Layout::NCHW, i);
  l.set_layout(out, Layout::NCHW);
  l.set_detail(i, kernel->detail());
  l.add_qconv_step(i, std::move(kernel), xin, out);
  return true;
}

}  // namespace

void lower_matmul(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) {
    if (!lower_quantized_product(l, i)) l.lower_with_reference(i);
    return;
  }
  if (!lower_packed_gemm(l, i)) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
