#pragma once
// Sizes that come from input — a file header, a model's shapes, a caller's
// shape — are computed here and nowhere else. A product of hostile dims
// overflows int64 (undefined behaviour) with a handful of plausible-looking
// numbers, and a size that merely fits in int64 can still ask for terabytes;
// both must become a kiln::Error naming the input before anything is
// allocated from them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/error.hpp"

namespace kiln {

// The most elements one tensor may have: 2^36 (256 GiB of float32) is beyond
// any real model, and far enough below 2^63 that sums and products of a few
// such sizes cannot overflow.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 36;
// The most bytes one tensor may have: kMaxTensorElements of the widest type.
inline constexpr int64_t kMaxTensorBytes = kMaxTensorElements * 8;

// Where a size comes from, for the error: `what` names the input ("x.npy",
// "tensor 'conv1.weight'"), `code` is the error it gives (InvalidModel for a
// model file, InvalidArgument for a caller's or a tensor file's shape).
struct SizeSource {
  std::string what;
  ErrorCode code = ErrorCode::InvalidArgument;
};

// a * b and a + b of non-negative sizes; throws when either is negative or the
// result exceeds `limit` (the check comes first, so nothing overflows).
// `quantity` says what is computed, e.g. "the data size".
int64_t checked_mul(int64_t a, int64_t b, const SizeSource& source, const char* quantity,
                    int64_t limit = kMaxTensorElements);
int64_t checked_add(int64_t a, int64_t b, const SizeSource& source, const char* quantity,
                    int64_t limit = kMaxTensorElements);

// The element count of `shape`: a negative dimension, or a product above
// `limit`, is an error naming the shape, the axis and the limit.
int64_t checked_element_count(const std::vector<int64_t>& shape, const SizeSource& source,
                              int64_t limit = kMaxTensorElements);
// The same count without the error: nullopt for a negative dimension or a
// product above `limit` (zeros count as ones there too).
std::optional<int64_t> element_count_within(const std::vector<int64_t>& shape, int64_t limit = kMaxTensorElements);
// The bytes of a tensor of `shape` with `element_size`-byte elements
// (checked_element_count, then the byte count against kMaxTensorBytes).
int64_t checked_byte_count(const std::vector<int64_t>& shape, size_t element_size, const SizeSource& source);

// Whether [offset, offset + size) lies within [0, total), computed without
// overflow (a header's offset and size are both hostile).
constexpr bool range_within(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

// a * b and a + b of non-negative values, or INT64_MAX when they would
// overflow: for statistics (FLOPs) of validated shapes, whose products can
// still exceed int64.
constexpr int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
constexpr int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

}  // namespace kiln
