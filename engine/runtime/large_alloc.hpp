#pragma once
// Memory for large, long-lived buffers: packed weights, activation arenas,
// kernel workspaces. Blocks of 2 MiB or more are aligned to 2 MiB and advised
// as transparent huge pages where the OS offers them (Linux, THP in "madvise"
// mode on most distributions): a session's tens of megabytes of packed
// weights then cost a few hundred page faults instead of tens of thousands
// (a quarter of a ResNet-18 session's creation went to faulting and zeroing
// 4 KiB pages), and streaming them each run misses the TLB far less.
// Smaller blocks are plain 64-byte-aligned allocations.
#include <cstddef>
#include <new>
#include <utility>

namespace kiln {

void* allocate_large(size_t bytes);
// `bytes` must be what the block was allocated with.
void free_large(void* p, size_t bytes) noexcept;

// An allocator for std::vector and friends.
template <class T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <class U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_large(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { free_large(p, n * sizeof(T)); }
  // resize() default-initialises (no zeros written for float): the buffers
  // are filled at once, and zeroing them first doubled the page touches.
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0)
      ::new (static_cast<void*>(p)) U;
    else
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const LargeAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace kiln
