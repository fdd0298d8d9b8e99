#pragma once
// Index arithmetic shared by the reference kernels. Fixed-capacity Dims (rank
// <= kMaxRank, enforced when a graph is validated) keep kernels free of heap
// allocation, so Session::run allocates nothing.
#include <array>

#include "engine/core/graph.hpp"
#include "engine/core/shape_inference.hpp"

namespace kiln::reference {

struct Dims {
  std::array<int64_t, kMaxRank> v{};
  size_t n = 0;

  Dims() = default;
  explicit Dims(size_t rank, int64_t fill = 0) : n(rank) { v.fill(fill); }
  Dims(const Shape& s) : n(s.size()) {  // NOLINT: implicit by design
    for (size_t i = 0; i < n; ++i) v[i] = s[i];
  }
  size_t size() const { return n; }
  int64_t& operator[](size_t i) { return v[i]; }
  int64_t operator[](size_t i) const { return v[i]; }
  int64_t product() const {
    int64_t p = 1;
    for (size_t i = 0; i < n; ++i) p *= v[i];
    return p;
  }
};

// Row-major strides of a shape.
inline Dims row_major_strides(const Dims& shape) {
  Dims s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

// Strides for reading `shape` as if broadcast to `out_shape` (right-aligned,
// zero stride on broadcast axes).
inline Dims broadcast_strides(const Dims& shape, const Dims& out_shape) {
  Dims strides(out_shape.size(), 0);
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const size_t o = out_shape.size() - shape.size() + i;
    strides[o] = shape[i] == 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

// Visits every index of `shape` in row-major order, calling f(offsets...) where
// each offset is the dot product of the index with one of the stride vectors.
template <size_t N, class F>
void for_each_index(const Dims& shape, const std::array<Dims, N>& strides, F&& f) {
  const size_t rank = shape.size();
  const int64_t total = shape.product();
  Dims idx(rank, 0);
  std::array<int64_t, N> off{};
  for (int64_t i = 0; i < total; ++i) {
    std::apply(f, off);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace kiln::reference
