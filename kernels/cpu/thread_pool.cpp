#include "kernels/cpu/thread_pool.hpp"

#include <pthreadpool.h>

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
  pthreadpool_parallelize_1d(pool_, task, ctx, n, 0);
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
