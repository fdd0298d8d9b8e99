#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

// float -> quantized (ONNX QuantizeLinear), or quantized -> quantized (requantization).
void quantize_linear(const KernelArgs& a) {
  const TensorInfo& x = *a.inputs[0].tensor;
  const TensorInfo& y = *a.outputs[0].tensor;
  const int64_t n = element_count(*a.inputs[0].shape);
  const QOut out = qout(a.outputs[0]);
  if (is_quantized_dtype(x.dtype)) return requantize_elements(qin(a.inputs[0]), out, n, requantization(x, y));
  const quant::Range r = dtype_range(y.dtype);
  const AxisIndex axis(y);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = axis(i);
    out.set(i, quant::quantize(a.inputs[0].data[i], y.quant->scale_at(c), y.quant->zero_point_at(c), r.lo, r.hi));
  }
}

// uint8, int8 or int32 -> float with the input's parameters.
void dequantize_linear(const KernelArgs& a) {
  const TensorInfo& x = *a.inputs[0].tensor;
  const int64_t n = element_count(*a.inputs[0].shape);
  const AxisIndex axis(x);
  float* y = a.outputs[0].data;
  auto value = [&](int64_t i) -> int32_t {
    return x.dtype == DataType::Int32 ? a.inputs[0].as<int32_t>()[i] : qin(a.inputs[0])[i];
  };
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = axis(i);
    y[i] = quant::dequantize(value(i), x.quant->scale_at(c), x.quant->zero_point_at(c));
  }
}

}  // namespace kiln::reference
