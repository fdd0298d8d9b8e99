#pragma once
// Element access for the quantized forms of the reference kernels: uint8 and
// int8 tensors read and written as int32 values, whatever their dtype.
#include <cstdint>

#include "engine/core/quantized_ops.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

struct QIn {
  const void* p;
  bool is_signed;
  int32_t operator[](int64_t i) const {
    return is_signed ? static_cast<const int8_t*>(p)[i] : static_cast<const uint8_t*>(p)[i];
  }
};

struct QOut {
  void* p;
  bool is_signed;
  void set(int64_t i, int32_t v) const {
    if (is_signed)
      static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v);
    else
      static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v);
  }
};

inline QIn qin(const InputView& v) { return {v.data, v.tensor->dtype == DataType::Int8}; }
inline QOut qout(const OutputView& v) { return {v.data, v.tensor->dtype == DataType::Int8}; }

// Whether the kernel runs its quantized form (engine/core/quantized_ops.hpp).
inline bool is_quantized(const KernelArgs& a) {
  return !a.outputs.empty() && a.outputs[0].tensor && is_quantized_dtype(a.outputs[0].tensor->dtype);
}

// y = requantize(x) for `n` elements, x and y may be the same memory.
inline void requantize_elements(const QIn& x, const QOut& y, int64_t n, const Requantization& r) {
  for (int64_t i = 0; i < n; ++i)
    y.set(i, quant::requantize(x[i] - r.from_zero_point, r.multiplier, r.to_zero_point, r.clamp.lo, r.clamp.hi));
}

// The quantized forms of the kernels that branch to them (data movement and
// reshape-like kernels handle both forms in place).
void conv_quantized(const KernelArgs& a);        // conv.cpp
void gemm_quantized(const KernelArgs& a);        // matmul.cpp
void matmul_quantized(const KernelArgs& a);      // matmul.cpp
void add_quantized(const KernelArgs& a);         // binary.cpp
void pool_quantized(const KernelArgs& a);        // pool.cpp: Max/Average/Global*
void activation_quantized(const KernelArgs& a);  // activation.cpp: Relu, Clip

}  // namespace kiln::reference
