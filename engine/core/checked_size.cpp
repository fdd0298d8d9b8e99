#include "engine/core/checked_size.hpp"

namespace kiln {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

[[noreturn]] void too_large(const SizeSource& source, const std::string& detail, int64_t limit) {
  std::string msg = source.what;
  msg += ": ";
  msg += detail;
  msg += " is implausibly large (it overflows the limit of ";
  msg += std::to_string(limit);
  msg += ')';
  throw Error(source.code, msg);
}

[[noreturn]] void negative(const SizeSource& source, const char* quantity, int64_t value) {
  std::string msg = source.what;
  msg += ": ";
  msg += quantity;
  msg += " has a negative operand ";
  msg += std::to_string(value);
  throw Error(source.code, msg);
}

}  // namespace

int64_t checked_mul(int64_t a, int64_t b, const SizeSource& source, const char* quantity, int64_t limit) {
  if (a < 0 || b < 0) negative(source, quantity, a < 0 ? a : b);
  if (b != 0 && a > limit / b) {
    std::string detail = quantity;
    detail += ' ';
    detail += std::to_string(a);
    detail += " x ";
    detail += std::to_string(b);
    too_large(source, detail, limit);
  }
  return a * b;
}

int64_t checked_add(int64_t a, int64_t b, const SizeSource& source, const char* quantity, int64_t limit) {
  if (a < 0 || b < 0) negative(source, quantity, a < 0 ? a : b);
  if (a > limit - b || b > limit) {
    std::string detail = quantity;
    detail += ' ';
    detail += std::to_string(a);
    detail += " + ";
    detail += std::to_string(b);
    too_large(source, detail, limit);
  }
  return a + b;
}

std::optional<int64_t> element_count_within(const std::vector<int64_t>& shape, int64_t limit) {
  // A zero anywhere makes the tensor empty, whatever the other dims are; the
  // others must still be plausible (kernels multiply them into strides), so
  // zeros count as ones in the bound.
  int64_t count = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    empty = empty || d == 0;
    const int64_t factor = d == 0 ? 1 : d;
    if (count > limit / factor) return std::nullopt;
    count *= factor;
  }
  return empty ? 0 : count;
}

int64_t checked_element_count(const std::vector<int64_t>& shape, const SizeSource& source, int64_t limit) {
  if (const std::optional<int64_t> count = element_count_within(shape, limit)) return *count;
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    if (shape[axis] >= 0) continue;
    std::string msg = source.what;
    msg += ": shape ";
    msg += shape_text(shape);
    msg += " has a negative dimension (";
    msg += std::to_string(shape[axis]);
    msg += " at axis ";
    msg += std::to_string(axis);
    msg += ')';
    throw Error(source.code, msg);
  }
  std::string detail = "the element count of shape ";
  detail += shape_text(shape);
  too_large(source, detail, limit);
}

int64_t checked_byte_count(const std::vector<int64_t>& shape, size_t element_size, const SizeSource& source) {
  const int64_t count = checked_element_count(shape, source);
  return checked_mul(count, static_cast<int64_t>(element_size), source, "the byte count", kMaxTensorBytes);
}

}  // namespace kiln
