#pragma once
// Places every activation tensor of a graph in one arena by lifetime, so that
// tensors whose lifetimes do not overlap share memory.
//
// Two kinds of sharing beyond reuse after death:
//  - alias: a reshape-like node (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
//    Dropout) gets the same bytes as its input; its kernel then does nothing.
//  - in place: a single-output elementwise node may write over an input of the
//    same size when no other node reads that input's bytes later.
// Kernels for these ops must therefore accept output == input.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <vector>

#include "engine/core/graph.hpp"
#include "engine/runtime/large_alloc.hpp"

namespace kiln {

// n rounded up to a multiple of a.
inline size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per tensor; -1 for constants (not in the arena)
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;  // sum of all activation sizes, each aligned
};

struct PlannerOptions {
  size_t alignment = 64;
  bool allow_alias = true;
  bool allow_in_place = true;
};

// `bytes_of(t)` gives the storage a backend needs for tensor t.
MemoryPlan plan_memory(const Graph& graph, const std::function<size_t(TensorId)>& bytes_of,
                       const PlannerOptions& options = {});

// A 64-byte-aligned block of bytes, such as a backend's arena (huge pages
// when large: see large_alloc.hpp).
struct AlignedDelete {
  size_t bytes = 0;
  void operator()(std::byte* p) const { free_large(p, bytes); }
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedDelete>;
// At least 64 bytes, so that an empty plan still yields a valid pointer.
inline AlignedBytes allocate_aligned(size_t bytes) {
  return AlignedBytes(static_cast<std::byte*>(allocate_large(bytes)), AlignedDelete{bytes});
}

// The common case: dense tensors in their logical shapes, element_count · dtype_size bytes each.
MemoryPlan plan_memory_dense(const Graph& graph, const PlannerOptions& options = {});

}  // namespace kiln
