#include "kernels/cpu/thread_pool.hpp"

#include <pthreadpool.h>

// ThreadSanitizer does not see the synchronisation inside pthreadpool (a
// system library, not instrumented), so under TSan run() states it: the
// caller's writes happen before every task, every task before run() returns.
#include "engine/core/sanitizers.hpp"
#ifdef KILN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace kiln::cpu {

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  if (threads_ > 1) pool_ = pthreadpool_create(static_cast<size_t>(threads_));
}

ThreadPool::~ThreadPool() {
  if (pool_) pthreadpool_destroy(pool_);
}

void ThreadPool::run(size_t n, void (*task)(void*, size_t), void* ctx) {
  if (!pool_ || n <= 1) {
    for (size_t i = 0; i < n; ++i) task(ctx, i);
    return;
  }
  // No DISABLE_DENORMALS: flushing only when threaded would change bits with
  // the thread count.
#ifdef KILN_TSAN
  struct Job {
    void (*task)(void*, size_t);
    void* ctx;
  } job{task, ctx};
  __tsan_release(&job);
  pthreadpool_parallelize_1d(
      pool_,
      [](void* p, size_t i) {
        Job* j = static_cast<Job*>(p);
        __tsan_acquire(j);
        j->task(j->ctx, i);
        __tsan_release(j);
      },
      &job, n, 0);
  __tsan_acquire(&job);
#else
  pthreadpool_parallelize_1d(pool_, task, ctx, n, 0);
#endif
}

void ThreadPool::release_workers() {
  // An empty job with YIELD_WORKERS sends the workers to sleep on a futex
  // instead of spinning for the next job. (A range of 1 would run inline on
  // this thread and never reach the workers.)
  if (pool_)
    pthreadpool_parallelize_1d(pool_, [](void*, size_t) {}, nullptr, static_cast<size_t>(threads_),
                               PTHREADPOOL_FLAG_YIELD_WORKERS);
}

}  // namespace kiln::cpu
