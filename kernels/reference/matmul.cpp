#include <algorithm>
#include <type_traits>

#include "engine/core/activation.hpp"
#include "engine/core/strided_view.hpp"
#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

namespace {
// acc[n] = sum_k a(m, k) * b(k, n) for one row m at a time, with element
// accessors for transposes; `row(m)` says where the row accumulates (the
// output itself for Acc = float, double scratch otherwise) and `done(m, acc)`
// finishes it. Every element sums k in increasing order.
template <class Acc, class A, class B, class Row, class Done>
void matrix_product(int64_t M, int64_t N, int64_t K, A a, B b, Row row, Done done) {
  for (int64_t m = 0; m < M; ++m) {
    Acc* acc = row(m);
    std::fill(acc, acc + N, Acc(0));
    for (int64_t k = 0; k < K; ++k) {
      const Acc av = a(m, k);
      for (int64_t n = 0; n < N; ++n) acc[n] += av * Acc(b(k, n));
    }
    done(m, static_cast<const Acc*>(acc));
  }
}

// Where row m of an M x N product accumulates.
template <class Acc>
auto accumulator_rows(const KernelArgs& args, float* y, int64_t N) {
  if constexpr (std::is_same_v<Acc, float>) {
    return [y, N](int64_t m) { return y + m * N; };
  } else {
    double* scratch = checked_scratch(args, N).data();
    return [scratch](int64_t) { return scratch; };
  }
}

StridedView scaled(StridedView v, int64_t factor) {
  for (int d = 0; d < v.rank; ++d) v.strides[d] *= factor;
  return v;
}

template <class Acc>
void gemm_accumulating(const KernelArgs& args) {
  const auto& attrs = attrs_as<fb::GemmAttrsT>(*args.node);
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  const float* A = args.inputs[0].data;
  const float* B = args.inputs[1].data;
  float* Y = args.outputs[0].data;
  const int64_t M = attrs.trans_a ? as[1] : as[0];
  const int64_t K = attrs.trans_a ? as[0] : as[1];
  const int64_t N = attrs.trans_b ? bs[0] : bs[1];
  const float* C = args.inputs.size() > 2 ? args.inputs[2].data : nullptr;
  const int64_t mn[2] = {M, N};
  const StridedView c = C ? broadcast_view(*args.inputs[2].shape, mn) : StridedView{};
  matrix_product<Acc>(
      M, N, K, [&](int64_t m, int64_t k) { return attrs.trans_a ? A[k * M + m] : A[m * K + k]; },
      [&](int64_t k, int64_t n) { return attrs.trans_b ? B[n * K + k] : B[k * N + n]; },
      accumulator_rows<Acc>(args, Y, N), [&](int64_t m, const Acc* acc) {
        for (int64_t n = 0; n < N; ++n) {
          Acc v = Acc(attrs.alpha) * acc[n];
          if (C) v += Acc(attrs.beta) * Acc(C[m * c.strides[0] + n * c.strides[1]]);
          Y[m * N + n] = static_cast<float>(apply_activation(attrs.activation, v));
        }
      });
}

// 1-D operands are promoted as numpy does; the batch axes broadcast.
template <class Acc>
void matmul_accumulating(const KernelArgs& args) {
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2];
  const int64_t K = as.back();
  const int64_t N = bs.size() == 1 ? 1 : bs.back();
  const std::span<const int64_t> batch_a(as.data(), as.size() > 2 ? as.size() - 2 : 0);
  const std::span<const int64_t> batch_b(bs.data(), bs.size() > 2 ? bs.size() - 2 : 0);
  int64_t dims[kMaxRank] = {};
  const size_t rank = std::max(batch_a.size(), batch_b.size());
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + batch_a.size() >= rank ? batch_a[i + batch_a.size() - rank] : 1;
    const int64_t db = i + batch_b.size() >= rank ? batch_b[i + batch_b.size() - rank] : 1;
    dims[i] = da == 1 ? db : da;
  }
  const std::span<const int64_t> batch(dims, rank);
  const StridedView va = scaled(broadcast_view(batch_a, batch), M * K);
  const StridedView vb = scaled(broadcast_view(batch_b, batch), K * N);
  const StridedView vy = scaled(contiguous_view(batch), M * N);
  const float* A = args.inputs[0].data;
  const float* B = args.inputs[1].data;
  float* Y = args.outputs[0].data;
  for_each_offset<3>({&va, &vb, &vy}, [&](int64_t oa, int64_t ob, int64_t oy) {
    const float* a = A + oa;
    const float* b = B + ob;
    float* y = Y + oy;
    matrix_product<Acc>(
        M, N, K, [&](int64_t m, int64_t k) { return a[m * K + k]; }, [&](int64_t k, int64_t n) { return b[k * N + n]; },
        accumulator_rows<Acc>(args, y, N), [&](int64_t m, const Acc* acc) {
          if constexpr (!std::is_same_v<Acc, float>)
            for (int64_t n = 0; n < N; ++n) y[m * N + n] = static_cast<float>(acc[n]);
        });
  });
}
}  // namespace

void gemm(const KernelArgs& args) {
  if (is_quantized(args)) return gemm_quantized(args);
  if (args.in_double()) return gemm_accumulating<double>(args);
  gemm_accumulating<float>(args);
}

void matmul(const KernelArgs& args) {
  if (is_quantized(args)) return matmul_quantized(args);
  if (args.in_double()) return matmul_accumulating<double>(args);
  matmul_accumulating<float>(args);
}

}  // namespace kiln::reference

namespace kiln::reference {

namespace {
// Y[m][n] = requantize(Σ_k (A[m][k] − za)(B(k, n) − zw[n]) + bias[n]) for a 2-D A.
void quantized_product(const KernelArgs& args, int64_t M, int64_t N, int64_t K, bool trans_b,
                       const fb::FusedActivation& act) {
  const QuantizedLinear q = quantized_linear(*args.inputs[0].tensor, *args.inputs[1].tensor,
                                             args.inputs.size() > 2 ? args.inputs[2].tensor : nullptr,
                                             *args.outputs[0].tensor, N, act);
  const QIn A = qin(args.inputs[0]), B = qin(args.inputs[1]);
  const QOut Y = qout(args.outputs[0]);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int64_t acc = q.bias[static_cast<size_t>(n)];
      for (int64_t k = 0; k < K; ++k)
        acc += int64_t{A[m * K + k] - q.x_zero_point} *
               (B[trans_b ? n * K + k : k * N + n] - q.w_zero_point[static_cast<size_t>(n)]);
      if (acc < INT32_MIN || acc > INT32_MAX)
        throw Error(ErrorCode::Internal, "node '" + args.node->name + "': int32 accumulator overflow");
      Y.set(m * N + n, quant::requantize(static_cast<int32_t>(acc), q.multiplier[static_cast<size_t>(n)],
                                         q.y_zero_point, q.clamp.lo, q.clamp.hi));
    }
}
}  // namespace

void gemm_quantized(const KernelArgs& args) {
  const auto& attrs = attrs_as<fb::GemmAttrsT>(*args.node);
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  quantized_product(args, as[0], attrs.trans_b ? bs[0] : bs[1], as[1], attrs.trans_b, attrs.activation);
}

void matmul_quantized(const KernelArgs& args) {
  const Shape& as = *args.inputs[0].shape;
  const Shape& bs = *args.inputs[1].shape;
  const int64_t K = as.back();
  quantized_product(args, element_count(as) / K, bs[1], K, false, fb::FusedActivation{});
}

}  // namespace kiln::reference
