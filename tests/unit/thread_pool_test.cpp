// The CPU backend's thread pool (kernels/cpu/thread_pool.hpp): every task runs
// exactly once per call, calls follow each other without mixing, and a call
// returns only when its tasks are done, whatever the threads' timing. Runs
// under ThreadSanitizer with the concurrency label.
#include "kernels/cpu/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace kiln::cpu {
namespace {

TEST(ThreadPool, EveryTaskOnceInEveryCall) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (size_t n : {0, 1, 2, 3, 7, 64, 1000}) {
      for (int call = 0; call < 20; ++call) {
        std::vector<std::atomic<int>> hits(n);
        auto fn = [&](size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); };
        pool.parallel_for(n, fn);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " threads, n " << n << ", task " << i;
      }
    }
  }
}

TEST(ThreadPool, ReturnsOnlyWhenSlowTasksAreDone) {
  ThreadPool pool(4);
  for (int call = 0; call < 10; ++call) {
    std::vector<int> out(6, 0);  // plain ints: the pool's return must publish them
    auto fn = [&](size_t i) {
      if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      out[i] = call * 10 + static_cast<int>(i);
    };
    pool.parallel_for(out.size(), fn);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], call * 10 + static_cast<int>(i));
  }
}

TEST(ThreadPool, WorkersWakeAfterBeingReleased) {
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  for (int call = 0; call < 50; ++call) {
    auto fn = [&](size_t i) { sum.fetch_add(static_cast<int>(i) + 1); };
    pool.parallel_for(10, fn);
    pool.release_workers();
    if (call % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let them fall asleep
  }
  EXPECT_EQ(sum.load(), 50 * 55);
}

// Several pools side by side (one per Session context) and more threads than cores.
TEST(ThreadPool, PoolsInParallel) {
  std::vector<std::thread> callers;
  std::atomic<long> total{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      ThreadPool pool(3);
      for (int call = 0; call < 200; ++call) {
        auto fn = [&](size_t i) { total.fetch_add(static_cast<long>(i)); };
        pool.parallel_for(17, fn);
      }
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 4L * 200 * (16 * 17 / 2));
}

}  // namespace
}  // namespace kiln::cpu
