// Replacement global operator new/delete that count allocations (see alloc_counter.hpp).
#include "tests/common/alloc_counter.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "engine/core/sanitizers.hpp"
#ifdef KILN_TSAN
#include <sanitizer/allocator_interface.h>
#endif

namespace {

std::atomic<long> g_count{0};

}  // namespace

namespace kiln::test {
long allocation_count() { return g_count.load(std::memory_order_relaxed); }
}  // namespace kiln::test

#ifdef KILN_TSAN
// ThreadSanitizer's runtime defines every global operator new and delete
// itself (replacements fail to link), so count through its allocation hook,
// which sees operator new and malloc alike.
namespace {
void on_allocation(const volatile void*, std::size_t) { g_count.fetch_add(1, std::memory_order_relaxed); }
void on_free(const volatile void*) {}
[[maybe_unused]] const int g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_allocation, on_free);
}  // namespace
#else

namespace {

void* counted(std::size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}

void* counted_aligned(std::size_t n, std::align_val_t a) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  const std::size_t alignment = std::max(static_cast<std::size_t>(a), sizeof(void*));
  return ::posix_memalign(&p, alignment, n ? n : 1) == 0 ? p : nullptr;
}

// Out of line so that GCC does not pair inlined deletes with `new` expressions
// (-Wmismatched-new-delete): these operators are malloc/free based by design.
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned(n, a);
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }

#endif  // KILN_TSAN
