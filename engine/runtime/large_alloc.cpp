#include "engine/runtime/large_alloc.hpp"

#include <algorithm>
#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

}  // namespace

void* allocate_large(size_t bytes) {
  bytes = std::max<size_t>(bytes, 64);
  if (bytes < kHuge) return ::operator new(bytes, std::align_val_t(64));
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, rounded);
  if (!p) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  // Advice only: where THP is off or unsupported this fails and nothing changes.
  (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  return p;
}

void free_large(void* p, size_t bytes) noexcept {
  if (!p) return;
  bytes = std::max<size_t>(bytes, 64);
  if (bytes < kHuge)
    ::operator delete(p, std::align_val_t(64));
  else
    std::free(p);
}

}  // namespace kiln
