#pragma once
// Kiln's one integer arithmetic rule for quantized tensors, used by the
// reference kernels (the oracle) and by every fast kernel, which must match
// it bit for bit on every ISA level and thread count.
//
//   real value      r = scale · (q − zero_point)
//   accumulator     acc = Σ (x − zx)(w − zw) + bias            (int32, exact)
//   requantization  y = clamp(zy + round(float(acc) · M), lo, hi)
//                   M = float(sx · sw / sy) per output channel (float32),
//                   the product is one float32 multiplication,
//                   round = to nearest, ties to even (the IEEE default mode).
//   quantization    q = clamp(zp + round(r / scale), lo, hi)  (ONNX QuantizeLinear)
//   [lo, hi] is the dtype's range narrowed by a fused Relu/Clip.
//
// Why a float32 multiplier rather than an int32 fixed-point multiplier and
// shift: a float32 M is a 24-bit fixed-point multiplier with its shift in the
// exponent; one IEEE multiplication is exactly rounded, so every ISA gives the
// same bits (kernels are built without FMA contraction), and x86 converts
// with ties-to-even in one instruction (cvtps2dq).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kiln::quant {

// Integer range of a quantized dtype: uint8 [0, 255], int8 [-128, 127].
struct Range {
  int32_t lo, hi;
};
inline constexpr Range kUint8Range{0, 255};
inline constexpr Range kInt8Range{-128, 127};

// The requantization step of the rule above. `lo - zp` and `hi - zp` are
// integers, so clamping before rounding equals clamping after, and it keeps
// the float-to-int conversion in range.
inline int32_t requantize(int32_t acc, float multiplier, int32_t zero_point, int32_t lo, int32_t hi) {
  float t = static_cast<float>(acc) * multiplier;
  t = std::clamp(t, static_cast<float>(lo - zero_point), static_cast<float>(hi - zero_point));
  return static_cast<int32_t>(std::nearbyint(t)) + zero_point;
}

// Float to quantized (ONNX QuantizeLinear: division, ties to even, saturate). NaN maps to the zero point.
inline int32_t quantize(float r, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  float t = r / scale;
  if (std::isnan(t)) t = 0;
  t = std::clamp(t, static_cast<float>(lo - zero_point), static_cast<float>(hi - zero_point));
  return static_cast<int32_t>(std::nearbyint(t)) + zero_point;
}

inline float dequantize(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

// Two quantized operands added into a third scale (QLinearAdd, residual Add):
// y = clamp(zy + round(float(a − za)·ma + float(b − zb)·mb), lo, hi), ma = sa/sy, mb = sb/sy,
// each product and the sum rounded to float32 in that order.
inline int32_t add(int32_t a, int32_t za, float ma, int32_t b, int32_t zb, float mb, int32_t zy, int32_t lo,
                   int32_t hi) {
  const float pa = static_cast<float>(a - za) * ma;
  const float pb = static_cast<float>(b - zb) * mb;
  float t = pa + pb;
  t = std::clamp(t, static_cast<float>(lo - zy), static_cast<float>(hi - zy));
  return static_cast<int32_t>(std::nearbyint(t)) + zy;
}

}  // namespace kiln::quant
