#include <algorithm>

#include "engine/core/activation.hpp"
#include "engine/core/shape_inference.hpp"
#include "kernels/reference/indexing.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

namespace {
// y[m, n] = sum_k a(m, k) * b(k, n), with element accessors for transposes.
template <class A, class B>
void matrix_product(int64_t M, int64_t N, int64_t K, A a, B b, float* y) {
  std::fill(y, y + M * N, 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      const float av = a(m, k);
      for (int64_t n = 0; n < N; ++n) y[m * N + n] += av * b(k, n);
    }
}
}  // namespace

void gemm(const KernelArgs& args) {
  const auto& attrs = attrs_as<fb::GemmAttrsT>(*args.node);
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  const float* A = args.inputs[0].data;
  const float* B = args.inputs[1].data;
  float* Y = args.outputs[0].data;
  const int64_t M = attrs.trans_a ? as[1] : as[0];
  const int64_t K = attrs.trans_a ? as[0] : as[1];
  const int64_t N = attrs.trans_b ? bs[0] : bs[1];
  matrix_product(
      M, N, K, [&](int64_t m, int64_t k) { return attrs.trans_a ? A[k * M + m] : A[m * K + k]; },
      [&](int64_t k, int64_t n) { return attrs.trans_b ? B[n * K + k] : B[k * N + n]; }, Y);
  Dims c_strides(2, 0);
  const float* C = nullptr;
  if (args.inputs.size() > 2) {
    C = args.inputs[2].data;
    Dims mn(2);
    mn[0] = M;
    mn[1] = N;
    c_strides = broadcast_strides(*args.inputs[2].shape, mn);
  }
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float v = attrs.alpha * Y[m * N + n];
      if (C) v += attrs.beta * C[m * c_strides[0] + n * c_strides[1]];
      Y[m * N + n] = apply_activation(attrs.activation, v);
    }
}

void matmul(const KernelArgs& args) {
  // Promote 1-D operands as numpy does, then broadcast the batch axes.
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2];
  const int64_t K = as.back();
  const int64_t N = bs.size() == 1 ? 1 : bs.back();
  Dims batch_a(as.size() > 2 ? as.size() - 2 : 0), batch_b(bs.size() > 2 ? bs.size() - 2 : 0);
  for (size_t i = 0; i < batch_a.size(); ++i) batch_a[i] = as[i];
  for (size_t i = 0; i < batch_b.size(); ++i) batch_b[i] = bs[i];
  Dims batch(std::max(batch_a.size(), batch_b.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    const size_t ia = i + batch_a.size() - batch.size(), ib = i + batch_b.size() - batch.size();
    const int64_t da = i + batch_a.size() >= batch.size() ? batch_a[ia] : 1;
    const int64_t db = i + batch_b.size() >= batch.size() ? batch_b[ib] : 1;
    batch[i] = da == 1 ? db : da;
  }
  Dims sa = broadcast_strides(batch_a, batch), sb = broadcast_strides(batch_b, batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    sa[i] *= M * K;
    sb[i] *= K * N;
  }
  const std::array<Dims, 3> strides = {sa, sb, row_major_strides(batch)};
  const float* A = args.inputs[0].data;
  const float* B = args.inputs[1].data;
  float* Y = args.outputs[0].data;
  for_each_index(batch, strides, [&](int64_t oa, int64_t ob, int64_t oy) {
    const float* a = A + oa;
    const float* b = B + ob;
    matrix_product(
        M, N, K, [&](int64_t m, int64_t k) { return a[m * K + k]; }, [&](int64_t k, int64_t n) { return b[k * N + n]; },
        Y + oy * M * N);
  });
}

}  // namespace kiln::reference
