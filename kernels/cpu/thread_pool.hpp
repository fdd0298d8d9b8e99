#pragma once
// The backend's threads. Work is split over independent output tiles only —
// never over a reduction — so results are the same bits for any thread count
// and any assignment of tasks to threads.
//
// Tasks are handed out one at a time from a shared counter, and the caller
// takes them too. A call returns as soon as every task has finished: a worker
// that the OS has not scheduled yet is not waited for (it finds nothing left
// when it wakes). On a machine shared with other busy processes this is what
// keeps a two-thread run from waiting a scheduler time slice per layer, as a
// pool that needs every worker to check in (pthreadpool) does: ResNet-18 int8
// went from about 4 ms to 300 ms under a parallel build there.
#include <cstddef>
#include <memory>

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
  // Lets idle workers sleep at once instead of spinning for the next call
  // (called at the end of a run).
  void release_workers();

 private:
  struct Shared;
  void run(size_t n, void (*task)(void*, size_t), void* ctx);
  std::unique_ptr<Shared> shared_;
  int threads_ = 1;
};

}  // namespace kiln::cpu
