#include "converter/host_tensor.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <optional>

#include "converter/errors.hpp"
#include "engine/core/checked_size.hpp"

namespace kiln::onnx_import {

std::string dtype_name(DType t) {
  switch (t) {
    case dtype::kUndefined: return "UNDEFINED";
    case dtype::kFloat: return "FLOAT";
    case dtype::kUInt8: return "UINT8";
    case dtype::kInt8: return "INT8";
    case dtype::kUInt16: return "UINT16";
    case dtype::kInt16: return "INT16";
    case dtype::kInt32: return "INT32";
    case dtype::kInt64: return "INT64";
    case dtype::kString: return "STRING";
    case dtype::kBool: return "BOOL";
    case dtype::kFloat16: return "FLOAT16";
    case dtype::kDouble: return "DOUBLE";
    case dtype::kUInt32: return "UINT32";
    case dtype::kUInt64: return "UINT64";
    case dtype::kComplex64: return "COMPLEX64";
    case dtype::kComplex128: return "COMPLEX128";
    case dtype::kBFloat16: return "BFLOAT16";
  }
  return "data type " + std::to_string(t);
}

bool is_floating(DType t) {
  return t == dtype::kFloat || t == dtype::kDouble || t == dtype::kFloat16 || t == dtype::kBFloat16;
}

bool is_integral(DType t) {
  switch (t) {
    case dtype::kUInt8:
    case dtype::kInt8:
    case dtype::kUInt16:
    case dtype::kInt16:
    case dtype::kInt32:
    case dtype::kInt64:
    case dtype::kBool:
    case dtype::kUInt32:
    case dtype::kUInt64:
      return true;
    default:
      return false;
  }
}

bool is_numeric(DType t) { return is_floating(t) || is_integral(t); }

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal half: normalise the mantissa.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float v) {
  // Round to nearest even, via the float's bits.
  const uint32_t x = std::bit_cast<uint32_t>(v);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflows to inf
  if (abs < 0x38800000u) {
    // Subnormal or zero half: value = mant * 2^-24.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = ((abs - 0x38000000u) >> 13);
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

float bfloat16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t float_to_bfloat16(float v) {
  const uint32_t x = std::bit_cast<uint32_t>(v);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

double round_to_floating(DType t, double v) {
  switch (t) {
    case dtype::kFloat: return static_cast<double>(static_cast<float>(v));
    case dtype::kFloat16: return half_to_float(float_to_half(static_cast<float>(v)));
    case dtype::kBFloat16: return bfloat16_to_float(float_to_bfloat16(static_cast<float>(v)));
    default: return v;
  }
}

int64_t wrap_to_integral(DType t, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  switch (t) {
    case dtype::kBool: return v != 0 ? 1 : 0;
    case dtype::kUInt8: return static_cast<uint8_t>(u);
    case dtype::kInt8: return static_cast<int8_t>(u);
    case dtype::kUInt16: return static_cast<uint16_t>(u);
    case dtype::kInt16: return static_cast<int16_t>(u);
    case dtype::kInt32: return static_cast<int32_t>(u);
    case dtype::kUInt32: return static_cast<uint32_t>(u);
    default: return v;  // INT64, UINT64 (held as its bit pattern)
  }
}

int64_t saturate_to_int64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

int64_t checked_element_count(const Shape& shape, const std::string& what) {
  // A negative or implausible shape is a malformed model; a plausible one
  // above kMaxHostElements is only more than the importer evaluates.
  kiln::checked_element_count(shape, {what, ErrorCode::InvalidModel});
  const std::optional<int64_t> n = element_count_within(shape, kMaxHostElements);
  if (!n)
    throw_unsupported(what + " with shape " + shape_to_string(shape) + " is too large to evaluate at conversion time");
  return *n;
}

void HostTensor::set_double(size_t k, double v) {
  if (floating()) f[k] = round_to_floating(dtype, v);
  else i[k] = wrap_to_integral(dtype, dtype == dtype::kBool ? (v != 0.0 ? 1 : 0) : saturate_to_int64(v));
}

void HostTensor::set_int(size_t k, int64_t v) {
  if (floating()) f[k] = round_to_floating(dtype, static_cast<double>(v));
  else i[k] = wrap_to_integral(dtype, v);
}

std::vector<int64_t> HostTensor::to_ints() const {
  std::vector<int64_t> out(size());
  for (size_t k = 0; k < out.size(); ++k) out[k] = get_int(k);
  return out;
}

std::vector<float> HostTensor::to_floats() const {
  std::vector<float> out(size());
  for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<float>(get_double(k));
  return out;
}

HostTensor HostTensor::zeros(DType t, Shape shape) {
  HostTensor h;
  h.dtype = t;
  const auto n = static_cast<size_t>(checked_element_count(shape, "a " + dtype_name(t) + " constant"));
  h.shape = std::move(shape);
  if (h.floating()) h.f.assign(n, 0.0);
  else h.i.assign(n, 0);
  return h;
}

HostTensor HostTensor::from_ints(DType t, Shape shape, std::vector<int64_t> values) {
  HostTensor h = zeros(t, std::move(shape));
  if (values.size() != h.size()) throw_invalid("internal: value count does not match the shape");
  for (size_t k = 0; k < values.size(); ++k) h.set_int(k, values[k]);
  return h;
}

HostTensor HostTensor::from_doubles(DType t, Shape shape, std::vector<double> values) {
  HostTensor h = zeros(t, std::move(shape));
  if (values.size() != h.size()) throw_invalid("internal: value count does not match the shape");
  for (size_t k = 0; k < values.size(); ++k) h.set_double(k, values[k]);
  return h;
}

}  // namespace kiln::onnx_import
