// Gemm with a constant B and bias (a fully connected layer) on the packed
// GEMM of the convolutions; other Gemm forms and MatMul on the reference kernel.
#include "engine/core/quantized_ops.hpp"
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

}  // namespace

void lower_matmul(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) return l.lower_with_reference(i);
  if (!lower_packed_gemm(l, i)) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
