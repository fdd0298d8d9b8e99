#pragma once
// The backend's threads: a thin owner of a pthreadpool (Debian's
// libpthreadpool-dev). Work is split over independent output tiles only —
// never over a reduction — so results are the same bits for any thread count.
#include <cstddef>
#include <functional>

struct pthreadpool;

namespace kiln::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(i) for i in [0, n), spread over the threads; returns when all are done.
  // `fn` is called through a plain function pointer: no allocation per call.
  template <class F>
  void parallel_for(size_t n, F& fn) {
    run(n, [](void* ctx, size_t i) { (*static_cast<F*>(ctx))(i); }, &fn);
  }
  // Lets idle workers sleep instead of spinning (called at the end of a run).
  void release_workers();

 private:
  void run(size_t n, void (*task)(void*, size_t), void* ctx);
  pthreadpool* pool_ = nullptr;
  int threads_ = 1;
};

}  // namespace kiln::cpu
