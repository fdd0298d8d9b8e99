#include "kernels/cpu/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kiln::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// One word says which call is current and which task it hands out next:
// epoch in the high 32 bits, next index in the low 32. A task is claimed by a
// compare-exchange on the whole word, so a thread still holding a word of an
// earlier call can never claim in the current one. kClosed in the index ends a
// call before the next one's fields are written (see claim_and_run).
constexpr uint64_t kIndexMask = 0xFFFF'FFFFu;
constexpr uint64_t kClosed = kIndexMask;
constexpr size_t kMaxTasks = kClosed - 1;
inline uint32_t epoch_of(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
inline uint64_t word(uint32_t epoch, uint64_t index) { return (uint64_t{epoch} << 32) | index; }

// How long a worker spins for the next call before it sleeps: longer than
// the gap between two layers of a run (a reference kernel or a layout change
// on the caller's thread can take tens of µs), short against a run. Timed by
// the clock: the cost of a pause instruction varies by CPU and hypervisor.
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

struct ThreadPool::Shared {
  // Every access is sequentially consistent: a thread that claims index i of
  // epoch e has read the n of epoch e (the caller closes e before writing the
  // next n, and a claim fails once the word is closed), and the caller's
  // writes before a call happen before its tasks, the tasks before its return.
  std::atomic<uint64_t> word{0};
  std::atomic<size_t> n{0};
  std::atomic<void (*)(void*, size_t)> task{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<size_t> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> idle{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;

  // Runs tasks of epoch `e` until none is left; returns how many it ran.
  size_t claim_and_run(uint32_t e) {
    size_t ran = 0;
    for (uint64_t w = word.load();;) {
      if (epoch_of(w) != e) break;
      const uint64_t i = w & kIndexMask;
      if (i >= n.load()) break;  // all handed out, or closed
      if (!word.compare_exchange_weak(w, w + 1)) continue;  // w now holds the current word
      task.load()(ctx.load(), static_cast<size_t>(i));
      ++ran;
      w = word.load();
    }
    return ran;
  }

  void worker() {
    uint32_t seen = 0;
    for (;;) {
      uint64_t w = word.load();
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int spin = 0; epoch_of(w) == seen && !stop.load(); ++spin) {
        if (!idle.load() && (spin % 64 != 63 || std::chrono::steady_clock::now() < until)) {
          cpu_relax();
        } else {
          sleepers.fetch_add(1);
          // Re-read after announcing: a caller that published before it saw no sleeper.
          if (epoch_of(word.load()) == seen && !stop.load()) word.wait(w);
          sleepers.fetch_sub(1);
        }
        w = word.load();
      }
      if (stop.load()) return;
      seen = epoch_of(w);
      if (const size_t ran = claim_and_run(seen); ran > 0) done.fetch_add(ran);
    }
  }
};

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  if (threads_ == 1) return;
  shared_ = std::make_unique<Shared>();
  for (int t = 1; t < threads_; ++t) shared_->workers.emplace_back([s = shared_.get()] { s->worker(); });
}

ThreadPool::~ThreadPool() {
  if (!shared_) return;
  shared_->stop.store(true);
  // A new epoch wakes every waiter; none claims (stop is checked first).
  shared_->word.store(word(epoch_of(shared_->word.load()) + 1, kClosed));
  shared_->word.notify_all();
  for (std::thread& t : shared_->workers) t.join();
}

void ThreadPool::run(size_t n, void (*task)(void*, size_t), void* ctx) {
  if (!shared_ || n <= 1) {
    for (size_t i = 0; i < n; ++i) task(ctx, i);
    return;
  }
  if (n > kMaxTasks) {
    // Never in practice (tasks are tiles and rows); kept correct in slices.
    for (size_t begin = 0; begin < n; begin += kMaxTasks) {
      struct Slice {
        void (*task)(void*, size_t);
        void* ctx;
        size_t begin;
      } slice{task, ctx, begin};
      run(std::min(kMaxTasks, n - begin), [](void* p, size_t i) {
        auto* s = static_cast<Slice*>(p);
        s->task(s->ctx, s->begin + i);
      }, &slice);
    }
    return;
  }
  Shared& s = *shared_;
  const uint32_t e = epoch_of(s.word.load()) + 1;
  s.n.store(n);
  s.task.store(task);
  s.ctx.store(ctx);
  s.done.store(0);
  s.idle.store(false);
  s.word.store(word(e, 0));
  if (s.sleepers.load() > 0) s.word.notify_all();
  size_t finished = s.claim_and_run(e);
  // Only tasks another thread claimed are left; their threads are running
  // them. Yield after a while, in case one of them waits for this core.
  for (int spin = 0; finished + s.done.load() < n; ++spin) {
    if (spin < 1024)
      cpu_relax();
    else
      std::this_thread::yield();
  }
  s.word.store(word(e, kClosed));
}

void ThreadPool::release_workers() {
  if (shared_) shared_->idle.store(true);
}

}  // namespace kiln::cpu
