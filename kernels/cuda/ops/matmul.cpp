// Gemm (cuBLAS, then ops/matmul.cu's epilogue) and MatMul (a cuBLAS GEMM
// per broadcast batch element, offsets computed at session creation).
#include <fmt/format.h>

#include <array>

#include "engine/core/shape_inference.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

namespace {

void lower_gemm(Lowering& l, int i) {
  const Node& node = l.node(i);
  const std::vector<TensorId> ins = node.inputs;
  const auto& a = attrs_as<fb::GemmAttrsT>(node);
  const Shape& as = l.shape(ins[0]);
  const Shape& bs = l.shape(ins[1]);
  const int M = static_cast<int>(a.trans_a ? as[1] : as[0]);
  const int K = static_cast<int>(a.trans_a ? as[0] : as[1]);
  const int N = static_cast<int>(a.trans_b ? bs[0] : bs[1]);
  const bool ta = a.trans_a, tb = a.trans_b;
  const float alpha = a.alpha, beta = a.beta;
  const Act act = to_act(a.activation);
  int64_t cs0 = 0, cs1 = 0;
  const TensorId c = ins.size() > 2 ? ins[2] : -1;
  if (c >= 0) {
    const StridedView cv = broadcast_view(l.shape(c), Shape{M, N});
    cs0 = cv.strides[0], cs1 = cv.strides[1];
  }
  const TensorId A = ins[0], B = ins[1], y = node.outputs[0];
  l.set_detail(i, "cuBLAS sgemm + epilogue");
  GpuContext* ctx = &l.ctx();
  l.add_node_step(i, [=, &l](cudaStream_t s) {
    // Row-major Y (M x N) = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T.
    const float zero = 0.0f;
    if (M == 0 || N == 0) return;
    if (K > 0) {
      check(cublasSgemm(ctx->cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha,
                        l.ptr(B), tb ? K : N, l.ptr(A), ta ? M : K, &zero, l.ptr(y), N),
            "cublasSgemm (Gemm)");
    } else {
      check(cudaMemsetAsync(l.ptr(y), 0, sizeof(float) * static_cast<size_t>(M) * N, s), "cudaMemsetAsync");
    }
    launch_gemm_epilogue(l.ptr(y), M, N, beta, c >= 0 ? l.ptr(c) : nullptr, cs0, cs1, act, s);
  });
}

void lower_batched_matmul(Lowering& l, int i) {
  const Node& node = l.node(i);
  const Shape& as = l.shape(node.inputs[0]);
  const Shape& bs = l.shape(node.inputs[1]);
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2];
  const int64_t K = as.back();
  const int64_t N = bs.size() == 1 ? 1 : bs.back();
  // Batch offsets (numpy broadcasting of the leading axes), computed now.
  const Shape ba(as.begin(), as.size() > 2 ? as.end() - 2 : as.begin());
  const Shape bb(bs.begin(), bs.size() > 2 ? bs.end() - 2 : bs.begin());
  const Shape batch = broadcast_shapes(ba, bb, node.name);
  const StridedView va = broadcast_view(ba, batch), vb = broadcast_view(bb, batch);
  std::vector<std::array<int64_t, 3>> offsets;  // a, b, y element offsets
  for_each_offset<2>({&va, &vb}, [&](int64_t oa, int64_t ob) {
    offsets.push_back({oa * M * K, ob * K * N, static_cast<int64_t>(offsets.size()) * M * N});
  });
  const TensorId A = node.inputs[0], B = node.inputs[1], y = node.outputs[0];
  l.set_detail(i, fmt::format("cuBLAS sgemm x{}", offsets.size()));
  GpuContext* ctx = &l.ctx();
  l.add_node_step(i, [=, &l](cudaStream_t s) {
    const float one = 1.0f, zero = 0.0f;
    if (M == 0 || N == 0) return;
    for (const auto& o : offsets) {
      if (K == 0) {
        check(cudaMemsetAsync(l.ptr(y) + o[2], 0, sizeof(float) * static_cast<size_t>(M * N), s), "cudaMemsetAsync");
        continue;
      }
      check(cublasSgemm(ctx->cublas(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                        static_cast<int>(K), &one, l.ptr(B) + o[1], static_cast<int>(N), l.ptr(A) + o[0],
                        static_cast<int>(K), &zero, l.ptr(y) + o[2], static_cast<int>(N)),
            "cublasSgemm (MatMul)");
    }
  });
}

}  // namespace

void lower_matmul(Lowering& l, int i) {
  if (l.node(i).op == OpType::Gemm)
    lower_gemm(l, i);
  else
    lower_batched_matmul(l, i);
}

}  // namespace kiln::cuda
