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

// One word says which call is current and which tasks are left: epoch in
// the high 32 bits, then the range [front, back) of unclaimed indices, 16 bits
// each. The caller claims from the front and workers from the back, so with
// two threads the caller runs the first part of every layer and the worker
// the last: consecutive layers split their rows (pixels) alike, and most of
// what one layer wrote is read by the next on the same core, from its own L2
// (taking tasks in one order, either thread ran any part, and MobileNetV2's
// small depthwise layers ran slower on two threads than on one). A task is
// claimed by a compare-exchange on the whole word, so a thread still holding
// a word of an earlier call can never claim in the current one; an empty
// range (front = back = 0) ends a call before the next one's fields are
// written (see claim_and_run).
constexpr size_t kMaxTasks = 0xFFFF;
inline uint32_t epoch_of(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
inline uint32_t front_of(uint64_t w) { return static_cast<uint32_t>(w >> 16) & 0xFFFF; }
inline uint32_t back_of(uint64_t w) { return static_cast<uint32_t>(w) & 0xFFFF; }
inline uint64_t word(uint32_t epoch, uint64_t front, uint64_t back) {
  return (uint64_t{epoch} << 32) | (front << 16) | back;
}

// How long a worker spins for the next call before it sleeps: longer than
// the gap between two layers of a run (a reference kernel or a layout change
// on the caller's thread can take tens of µs), short against a run. Timed by
// the clock: the cost of a pause instruction varies by CPU and hypervisor.
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

struct ThreadPool::Shared {
  // Every access is sequentially consistent: a thread that claims a task of
  // epoch e has read the task and ctx of epoch e (the caller closes e before
  // writing the next ones, and a claim fails once the word is closed), and the caller's
  // writes before a call happen before its tasks, the tasks before its return.
  std::atomic<uint64_t> word{0};
  std::atomic<void (*)(void*, size_t)> task{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<size_t> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> idle{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;

  // Runs tasks of epoch `e` until none is left, from the front (the caller)
  // or the back (workers); returns how many it ran.
  size_t claim_and_run(uint32_t e, bool from_back) {
    size_t ran = 0;
    for (uint64_t w = word.load();;) {
      if (epoch_of(w) != e) break;
      const uint32_t front = front_of(w), back = back_of(w);
      if (front >= back) break;  // all handed out, or closed
      const uint64_t next = from_back ? w - 1 : w + (uint64_t{1} << 16);
      if (!word.compare_exchange_weak(w, next)) continue;  // w now holds the current word
      task.load()(ctx.load(), from_back ? back - 1 : front);
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
      if (const size_t ran = claim_and_run(seen, true); ran > 0) done.fetch_add(ran);
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
  shared_->word.store(word(epoch_of(shared_->word.load()) + 1, 0, 0));
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
  s.task.store(task);
  s.ctx.store(ctx);
  s.done.store(0);
  s.idle.store(false);
  s.word.store(word(e, 0, n));
  if (s.sleepers.load() > 0) s.word.notify_all();
  size_t finished = s.claim_and_run(e, false);
  // Only tasks another thread claimed are left; their threads are running
  // them. Yield after a while, in case one of them waits for this core.
  for (int spin = 0; finished + s.done.load() < n; ++spin) {
    if (spin < 1024)
      cpu_relax();
    else
      std::this_thread::yield();
  }
  s.word.store(word(e, 0, 0));
}

void ThreadPool::release_workers() {
  if (shared_) shared_->idle.store(true);
}

}  // namespace kiln::cpu
