#pragma once
// A constant known at conversion time (an initializer, a Constant node, or the
// result of a shape sub-graph evaluated by the importer), of any ONNX numeric
// data type. Floating values are held as doubles and integer (and bool) values
// as int64, each rounded or wrapped to its data type after every operation, so
// host arithmetic gives what the ONNX type would.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln::onnx_import {

// onnx::TensorProto::DataType values (kept as plain ints so that this header
// does not need the protobuf classes).
using DType = int32_t;
namespace dtype {
inline constexpr DType kUndefined = 0, kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6,
                       kInt64 = 7, kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12,
                       kUInt64 = 13, kComplex64 = 14, kComplex128 = 15, kBFloat16 = 16;
}  // namespace dtype

// "FLOAT", "INT64", ... (or "data type 42" for unknown values).
std::string dtype_name(DType t);
bool is_floating(DType t);
// Integer types and bool.
bool is_integral(DType t);
// The numeric types the host evaluator handles: is_floating or is_integral.
bool is_numeric(DType t);

// Rounds a value to what type `t` can hold: float32/float16/bfloat16 rounding,
// or two's-complement wrapping for integers (bool: nonzero -> 1).
double round_to_floating(DType t, double v);
int64_t wrap_to_integral(DType t, int64_t v);
// Saturating double -> int64 conversion (NaN -> 0), so no cast is undefined.
int64_t saturate_to_int64(double v);

float half_to_float(uint16_t bits);
uint16_t float_to_half(float v);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float v);

// Largest host tensor the importer creates or decodes (elements); beyond any
// real shape sub-graph, and a guard against hostile sizes.
inline constexpr int64_t kMaxHostElements = int64_t{1} << 24;
// Checks the dims of a shape (non-negative, product within kMaxHostElements)
// and returns the element count; `what` names the tensor in the error.
int64_t checked_element_count(const Shape& shape, const std::string& what);

struct HostTensor {
  DType dtype = dtype::kFloat;
  Shape shape;
  std::vector<double> f;   // floating dtypes
  std::vector<int64_t> i;  // integer dtypes and bool

  bool floating() const { return is_floating(dtype); }
  size_t size() const { return floating() ? f.size() : i.size(); }
  double get_double(size_t k) const { return floating() ? f[k] : static_cast<double>(i[k]); }
  int64_t get_int(size_t k) const { return floating() ? saturate_to_int64(f[k]) : i[k]; }
  // Stores a value converted (rounded/wrapped) to this tensor's dtype.
  void set_double(size_t k, double v);
  void set_int(size_t k, int64_t v);
  // The values as integers (floats truncated), e.g. a shape or axes list.
  std::vector<int64_t> to_ints() const;
  std::vector<float> to_floats() const;

  // An empty tensor of `dtype` and `shape` (zero-filled).
  static HostTensor zeros(DType dtype, Shape shape);
  static HostTensor from_ints(DType dtype, Shape shape, std::vector<int64_t> values);
  static HostTensor from_doubles(DType dtype, Shape shape, std::vector<double> values);
};

}  // namespace kiln::onnx_import
